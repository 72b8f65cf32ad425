/**
 * Records that live only while their node does: they are written on the node's lease, so a dead
 * node's claims vanish by themselves. When the lease is lost (etcd restarted, a long pause) a
 * new one is taken and every record is written again.
 * @module
 */
import type { Lease } from "etcd3";
import { Backoff } from "../util/backoff.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import type { KeyFamily } from "./keys.ts";
import { keyOf } from "./keys.ts";
import type { Store } from "./store.ts";

/**
 * Seconds a node's leases live without a keepalive: its node record, its replicas' statuses and
 * its election keys. It is how long a dead node goes unnoticed, so it is most of the time a
 * service takes to come back elsewhere (issue 8's goal: 5 s). etcd3 sends a keepalive every
 * third of it, so a node is declared dead after about three keepalives in a row went missing;
 * etcd raises it to one and a half election timeouts where the link is slow (the tuner lengthens
 * those), and a new etcd leader extends every lease, so an election alone never expires one.
 */
export const LIVENESS_TTL_S = 3;

/** Options of {@link LeasedRecords}. */
export interface LeasedRecordsOptions {
  store: Store;
  /** Lease time to live in seconds (default {@link LIVENESS_TTL_S}). */
  ttl?: number;
  log?: Logger;
  /**
   * Called when the lease was found expired: every claim made on it is gone (another node may
   * hold it now), and the records are being written again on a new lease.
   */
  onLost?: () => void;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

/** Writes records on one lease and rewrites them on a new lease when it is lost. */
export class LeasedRecords {
  #lease: Lease | undefined;
  readonly #records = new Map<string, { f: KeyFamily; ids: string[]; value: unknown }>();
  readonly #log: Logger;
  #closed = false;
  #renewing: Promise<void> | undefined;
  /** When etcd last confirmed the lease (granted or kept alive), by {@link LeasedRecordsOptions.now}. */
  #renewedAt: number;
  readonly #now: () => number;

  constructor(readonly options: LeasedRecordsOptions) {
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? (() => performance.now());
    this.#renewedAt = this.#now();
  }

  /**
   * How long ago etcd last confirmed the lease (0 before there is one). Past the lease's time to
   * live, etcd may have let it expire: claims made on it may be another node's by then.
   */
  sinceRenewedMs(): number {
    // No lease yet (nothing written or claimed): nothing can have expired.
    return this.#lease ? this.#now() - this.#renewedAt : 0;
  }

  /**
   * Creates a record on the lease only if no one holds it, for what must run in one place at a
   * time (a service with volumes). True when this lease holds it, now or already. A claim is
   * not written again when the lease is lost: it is claimed anew, and may be someone else's.
   */
  async claim(f: KeyFamily, ids: string[], value: { node: string }): Promise<boolean> {
    const key = keyOf(f, ...ids);
    const lease = await this.#current();
    const id = await lease.grant();
    const client = this.options.store.client;
    const put = () => client.put(key).value(JSON.stringify(value)).lease(id);
    const res = await client.if(key, "Create", "==", 0).then(put()).else(client.get(key)).commit();
    if (res.succeeded) return true;
    const held = res.responses[0]?.response_range?.kvs[0];
    if (!held) return false;
    if (String(held.lease) === String(id)) return true;
    // Held by this node before its agent restarted (a lease not yet expired): still this node's.
    let owner: unknown;
    try {
      owner = JSON.parse(held.value.toString()).node;
    } catch { /* not a claim of ours */ }
    if (owner !== value.node) return false;
    const taken = await client.if(key, "Mod", "==", Number(held.mod_revision)).then(put()).commit();
    return taken.succeeded;
  }

  /** Deletes a claim if this lease holds it. */
  async release(f: KeyFamily, ids: string[]): Promise<void> {
    const lease = this.#lease;
    if (!lease) return;
    const id = await lease.grant();
    const key = keyOf(f, ...ids);
    const client = this.options.store.client;
    await client.if(key, "Lease", "==", id).then(client.delete().key(key)).commit();
  }

  /** Writes (or rewrites) a record on the lease. */
  async put(f: KeyFamily, ids: string[], value: unknown): Promise<void> {
    this.#records.set(keyOf(f, ...ids), { f, ids, value });
    const lease = await this.#current();
    await this.options.store.put(f, ids, value, await lease.grant());
  }

  /** Deletes a record and stops rewriting it. */
  async delete(f: KeyFamily, ids: string[]): Promise<void> {
    this.#records.delete(keyOf(f, ...ids));
    await this.options.store.delete(f, ...ids);
  }

  /** Revokes the lease: every record written through it disappears at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const lease = this.#lease;
    this.#lease = undefined;
    await lease?.revoke().catch(() => {});
  }

  async #current(): Promise<Lease> {
    if (this.#lease) return this.#lease;
    const lease = this.options.store.client.lease(this.options.ttl ?? LIVENESS_TTL_S);
    lease.on("lost", (err) => this.#onLost(lease, err));
    lease.on("keepaliveSucceeded", () => {
      if (this.#lease === lease) this.#renewedAt = this.#now();
    });
    this.#lease = lease;
    await lease.grant();
    this.#renewedAt = this.#now();
    return lease;
  }

  #onLost(lease: Lease, err: Error): void {
    if (this.#closed || this.#lease !== lease) return;
    this.#log.warn("lease lost; writing this node's records again", { err });
    this.#lease = undefined;
    this.options.onLost?.();
    this.#renewing ??= this.#rewriteAll().finally(() => this.#renewing = undefined);
  }

  async #rewriteAll(): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    while (!this.#closed) {
      try {
        const lease = await this.#current();
        const id = await lease.grant();
        for (const r of this.#records.values()) {
          await this.options.store.put(r.f, r.ids, r.value, id);
        }
        return;
      } catch (err) {
        const delay = backoff.next(Date.now());
        this.#log.warn("rewriting leased records failed; retrying", { err, delay });
        this.#lease = undefined;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
