/**
 * Keeps an in-memory copy of the keyspace: a full read, then a watch from the next revision, and
 * a full read again now and then because watches can be lost. When etcd is unreachable the copy
 * stays as it was last seen, so the data plane keeps answering.
 * @module
 */
import type { IKeyValue, Watcher } from "etcd3";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { families, type KeyFamily, parseKey, ROOT } from "./keys.ts";
import { decodeValue, type Snapshot, type Store } from "./store.ts";
import type {
  Assignment,
  ClusterEvent,
  ClusterInfo,
  DrainRecord,
  MemberRecord,
  NodeRecord,
  PlacementProblem,
  ReplicaStatus,
  ServiceRecord,
  ServingCert,
} from "./types.ts";
import { MemoryView } from "./view.ts";

/** Options of a {@link Mirror}. */
export interface MirrorOptions {
  store: Store;
  log?: Logger;
  /** How often the whole keyspace is read again, in ms (default 30 s). */
  resyncMs?: number;
  /** Called (coalesced) after the copy changed. */
  onChange?: () => void;
}

/** The cluster as last read from etcd: a {@link MemoryView} plus the assignments. */
export class Mirror {
  readonly view = new MemoryView();
  /** Keyed by `service/replica`. */
  readonly assignments = new Map<string, Assignment>();
  /** `certs/<name>`: kept apart from the view, which must never carry a private key. */
  readonly certs = new Map<string, ServingCert>();
  #watcher: Watcher | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #synced = false;
  #pending = false;
  #resyncing: Promise<void> | undefined;
  readonly #log: Logger;

  constructor(readonly options: MirrorOptions) {
    this.#log = options.log ?? silentLogger;
  }

  /** True once the first full read has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Reads everything, then follows changes. Throws when the first read fails. */
  async start(): Promise<void> {
    await this.#resyncOnce();
    this.#timer = setInterval(() => {
      this.#resyncOnce().catch((err) => this.#log.warn("resync failed", { err }));
    }, this.options.resyncMs ?? 30_000);
  }

  /** Stops following changes; the copy stays readable. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#resyncing?.catch(() => {});
    await this.#watcher?.cancel().catch(() => {});
    this.#watcher = undefined;
  }

  /**
   * Reads everything again now, for whoever must act on the current state and not on what was
   * seen before a partition (the watch may still be catching up). Throws when the read fails.
   */
  resync(): Promise<void> {
    return this.#resyncOnce();
  }

  /** One resync at a time: a slow one (etcd away) must not pile up watchers behind it. */
  #resyncOnce(): Promise<void> {
    this.#resyncing ??= this.#resync().finally(() => this.#resyncing = undefined);
    return this.#resyncing;
  }

  async #resync(): Promise<void> {
    const snap = await this.options.store.snapshot();
    if (this.#stopped) return;
    this.#load(snap);
    this.#synced = true;
    await this.#watcher?.cancel().catch(() => {});
    this.#watcher = undefined;
    const watcher = await this.options.store.client.watch().prefix(ROOT)
      .startRevision(String(snap.revision + 1)).create();
    if (this.#stopped) return void watcher.cancel().catch(() => {});
    this.#watcher = watcher;
    watcher.on("put", (kv) => this.#apply(kv, false));
    watcher.on("delete", (kv) => this.#apply(kv, true));
    watcher.on("error", (err) => this.#log.warn("watch error", { err }));
    this.#changed();
  }

  #load(snap: Snapshot): void {
    const v = this.view;
    v.serviceMap.clear();
    v.replicaMap.clear();
    v.nodeMap.clear();
    v.memberMap.clear();
    v.placementMap.clear();
    v.eventMap.clear();
    v.drainMap.clear();
    this.assignments.clear();
    this.certs.clear();
    v.info = undefined;
    for (const e of snap.entries) this.#set(e.family, e.ids, e.value);
  }

  #apply(kv: IKeyValue, deleted: boolean): void {
    const parsed = parseKey(kv.key.toString());
    if (!parsed) return;
    const value = deleted ? undefined : decodeValue(kv);
    if (!deleted && value === undefined) {
      this.#log.warn("ignoring a value that is not JSON", { key: kv.key.toString() });
      return;
    }
    this.#set(parsed.family, parsed.ids, value);
    this.#changed();
  }

  /** Stores (or, with `value` undefined, deletes) one record in the copy. */
  #set(f: KeyFamily, ids: string[], value: unknown): void {
    const v = this.view;
    const key = ids.join("/");
    const put = value !== undefined && value !== null;
    if (f === families.services) {
      put ? v.serviceMap.set(key, value as ServiceRecord) : v.serviceMap.delete(key);
    } else if (f === families.nodes) {
      put ? v.nodeMap.set(key, value as NodeRecord) : v.nodeMap.delete(key);
    } else if (f === families.members) {
      put ? v.memberMap.set(key, value as MemberRecord) : v.memberMap.delete(key);
    } else if (f === families.replicas) {
      put ? v.replicaMap.set(key, value as ReplicaStatus) : v.replicaMap.delete(key);
    } else if (f === families.placement) {
      put ? v.placementMap.set(key, value as PlacementProblem) : v.placementMap.delete(key);
    } else if (f === families.events) {
      put ? v.eventMap.set(key, value as ClusterEvent) : v.eventMap.delete(key);
    } else if (f === families.drain) {
      put ? v.drainMap.set(key, value as DrainRecord) : v.drainMap.delete(key);
    } else if (f === families.assignments) {
      put ? this.assignments.set(key, value as Assignment) : this.assignments.delete(key);
    } else if (f === families.certs) {
      put ? this.certs.set(key, value as ServingCert) : this.certs.delete(key);
    } else if (f === families.cluster && key === "info") {
      v.info = put ? value as ClusterInfo : undefined;
    }
  }

  /** Coalesces bursts of events into one callback on the next microtask. */
  #changed(): void {
    if (this.#pending || !this.options.onChange) return;
    this.#pending = true;
    queueMicrotask(() => {
      this.#pending = false;
      if (!this.#stopped) this.options.onChange?.();
    });
  }
}
