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
}

/** Writes records on one lease and rewrites them on a new lease when it is lost. */
export class LeasedRecords {
  #lease: Lease | undefined;
  readonly #records = new Map<string, { f: KeyFamily; ids: string[]; value: unknown }>();
  readonly #log: Logger;
  #closed = false;
  #renewing: Promise<void> | undefined;

  constructor(readonly options: LeasedRecordsOptions) {
    this.#log = options.log ?? silentLogger;
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
    this.#lease = lease;
    await lease.grant();
    return lease;
  }

  #onLost(lease: Lease, err: Error): void {
    if (this.#closed || this.#lease !== lease) return;
    this.#log.warn("lease lost; writing this node's records again", { err });
    this.#lease = undefined;
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
