/**
 * A cluster-wide lock that needs no one to keep it: a key written only if absent, on a lease
 * granted for the longest the holder may need it and not kept alive. The holder releases it by
 * revoking the lease; a holder that died (or whose etcd is down, so it could not keep a lease
 * alive anyway) loses it when the lease runs out.
 * @module
 */
import type { KeyFamily } from "./keys.ts";
import { keyOf } from "./keys.ts";
import type { Store } from "./store.ts";

/** What the lock's key holds: who took it and when, for logs and for whoever waits. */
export interface LockHolder {
  holder: string;
  since: string;
}

/** Options of a {@link LeaseLock}. */
export interface LeaseLockOptions {
  store: Store;
  family: KeyFamily;
  ids: string[];
  /** Seconds the lock lasts unless released: longer than the work it guards can take. */
  ttlSeconds: number;
  /** Who takes it (this node's id). */
  holder: string;
  now?: () => Date;
}

/** A lock held by at most one holder in the cluster; see the module's documentation. */
export class LeaseLock {
  constructor(readonly options: LeaseLockOptions) {
    if (!(options.ttlSeconds >= 1)) {
      throw new RangeError(`LeaseLock: ttlSeconds ${options.ttlSeconds}: give at least 1`);
    }
  }

  /**
   * Takes the lock if no one holds it; returns the function that releases it, or undefined
   * when someone does (then see {@link holder}).
   */
  async tryAcquire(): Promise<(() => Promise<void>) | undefined> {
    const { store, family, ids, ttlSeconds, holder } = this.options;
    const { client } = store;
    const key = keyOf(family, ...ids);
    const lease = client.lease(ttlSeconds, { autoKeepAlive: false });
    try {
      const id = await lease.grant();
      const value: LockHolder = {
        holder,
        since: (this.options.now?.() ?? new Date()).toISOString(),
      };
      const res = await client
        .if(key, "Create", "==", 0)
        .then(client.put(key).value(JSON.stringify(value)).lease(id))
        .commit();
      if (res.succeeded) return () => lease.revoke();
    } catch (err) {
      await lease.revoke().catch(() => {});
      throw err;
    }
    await lease.revoke().catch(() => {});
    return undefined;
  }

  /** Who holds the lock now, if anyone. */
  async holder(): Promise<LockHolder | undefined> {
    return (await this.options.store.get<LockHolder>(this.options.family, ...this.options.ids))
      ?.value;
  }
}
