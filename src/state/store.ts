/**
 * Typed access to the etcd keyspace. Reads and writes go through a {@link Store}; updates that
 * depend on what is stored are compare-and-swap transactions on the key's revision, so two
 * writers can never lose each other's change.
 * @module
 */
import type { Etcd3, IKeyValue } from "etcd3";
import { families, type KeyFamily, keyOf, parseKey, prefixOf, ROOT } from "./keys.ts";
import { sameContainers, sameSpec } from "./spec_diff.ts";
import type {
  Assignment,
  ClusterInfo,
  PlacementProblem,
  ReplicaStatus,
  ServiceRecord,
  ServiceSpec,
} from "./types.ts";

/** A stored record with the revision it was last modified at (0 when absent). */
export interface Versioned<T> {
  ids: string[];
  value: T;
  modRevision: number;
}

/** Every key of the keyspace at one revision, for a mirror to start from. */
export interface Snapshot {
  revision: number;
  entries: { family: KeyFamily; ids: string[]; value: unknown }[];
}

/** Thrown when a compare-and-swap loop keeps losing to other writers. */
export class ConflictError extends Error {}

const decoder = new TextDecoder();

/** Decodes a stored value; undefined for a value that is not JSON (it is logged by callers). */
export function decodeValue(kv: IKeyValue): unknown {
  try {
    return JSON.parse(decoder.decode(kv.value));
  } catch {
    return undefined;
  }
}

/** The outcome of applying one spec. */
export interface ApplyResult {
  name: string;
  /** The service's generation after the apply. */
  generation: number;
  /** True when the service did not exist before. */
  created: boolean;
  /** True when the stored spec changed (always true when created). */
  changed: boolean;
}

/** Reads and writes fossora's records in etcd. */
export class Store {
  constructor(readonly client: Etcd3, readonly maxRetries = 20) {}

  /** Reads one record. */
  async get<T>(f: KeyFamily, ...ids: string[]): Promise<Versioned<T> | undefined> {
    const res = await this.client.get(keyOf(f, ...ids)).exec();
    const kv = res.kvs[0];
    if (!kv) return undefined;
    return { ids, value: decodeValue(kv) as T, modRevision: Number(kv.mod_revision) };
  }

  /** Lists a family, or the part of it under the first ids. */
  async list<T>(f: KeyFamily, ...ids: string[]): Promise<Versioned<T>[]> {
    const prefix = ids.length ? prefixOf(f, ...ids) : f.prefix;
    const res = await this.client.getAll().prefix(prefix).exec();
    return res.kvs.flatMap((kv) => {
      const parsed = parseKey(kv.key.toString());
      if (!parsed || parsed.family !== f) return [];
      return [{
        ids: parsed.ids,
        value: decodeValue(kv) as T,
        modRevision: Number(kv.mod_revision),
      }];
    });
  }

  /** Writes a record unconditionally (for families with one writer), optionally on a lease. */
  async put(f: KeyFamily, ids: string[], value: unknown, lease?: string): Promise<void> {
    const put = this.client.put(keyOf(f, ...ids)).value(JSON.stringify(value));
    if (lease) put.lease(lease);
    await put.exec();
  }

  /** Deletes a record; true when it existed. */
  async delete(f: KeyFamily, ...ids: string[]): Promise<boolean> {
    const res = await this.client.delete().key(keyOf(f, ...ids)).exec();
    return Number(res.deleted) > 0;
  }

  /** Writes `value` only if the record still has `modRevision` (0: only if absent). */
  async putIf(f: KeyFamily, ids: string[], modRevision: number, value: unknown): Promise<boolean> {
    const key = keyOf(f, ...ids);
    const res = await this.client
      .if(key, "Mod", "==", modRevision)
      .then(this.client.put(key).value(JSON.stringify(value)))
      .commit();
    return res.succeeded;
  }

  /** Everything under the root at one revision. */
  async snapshot(): Promise<Snapshot> {
    const res = await this.client.getAll().prefix(ROOT).exec();
    const entries = res.kvs.flatMap((kv) => {
      const parsed = parseKey(kv.key.toString());
      return parsed ? [{ ...parsed, value: decodeValue(kv) }] : [];
    });
    return { revision: Number(res.header.revision), entries };
  }

  /** The cluster's identity, if a cluster was created in this etcd. */
  async clusterInfo(): Promise<ClusterInfo | undefined> {
    return (await this.get<ClusterInfo>(families.cluster, "info"))?.value;
  }

  /**
   * Creates the cluster record and join token once; returns what is stored, so a second node
   * starting at the same time ends up with the first one's cluster.
   */
  async initCluster(info: ClusterInfo, joinToken: string): Promise<ClusterInfo> {
    const infoKey = keyOf(families.cluster, "info");
    await this.client
      .if(infoKey, "Create", "==", 0)
      .then(
        this.client.put(infoKey).value(JSON.stringify(info)),
        this.client.put(keyOf(families.cluster, "join-token")).value(JSON.stringify(joinToken)),
      )
      .commit();
    const stored = await this.clusterInfo();
    if (!stored) throw new Error("cluster record vanished right after it was written");
    return stored;
  }

  /** The cluster's join token. */
  async joinToken(): Promise<string | undefined> {
    return (await this.get<string>(families.cluster, "join-token"))?.value;
  }

  /**
   * The token nodes show each other when one asks another for what only it has (a replica's
   * logs): made by the first node that needs it. Only etcd's clients (nodes, with a cluster
   * certificate) can read it; no API shows it.
   */
  async peerToken(): Promise<string> {
    const stored = await this.get<string>(families.cluster, "peer-token");
    if (stored) return stored.value;
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    await this.putIf(families.cluster, ["peer-token"], 0, token);
    // Whichever node wrote first, every node uses what is stored.
    return (await this.get<string>(families.cluster, "peer-token"))!.value;
  }

  /**
   * Creates or updates services in one transaction: all of them or none. A spec equal to the
   * stored one keeps its generation; a changed one gets the next.
   */
  async applyServices(specs: ServiceSpec[], now = new Date()): Promise<ApplyResult[]> {
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const current = await Promise.all(
        specs.map((s) => this.get<ServiceRecord>(families.services, s.name)),
      );
      const plan = specs.map((spec, i) => planApply(spec, current[i], now));
      const changed = plan.filter((p) => p.record);
      if (changed.length === 0) return plan.map((p) => p.result);
      let txn = this.client.if(
        keyOf(families.services, specs[0].name),
        "Mod",
        "==",
        current[0]?.modRevision ?? 0,
      );
      for (let i = 1; i < specs.length; i++) {
        txn = txn.and(
          keyOf(families.services, specs[i].name),
          "Mod",
          "==",
          current[i]?.modRevision ?? 0,
        );
      }
      const puts = changed.map((p) =>
        this.client.put(keyOf(families.services, p.result.name)).value(JSON.stringify(p.record))
      );
      const res = await txn.then(...puts).commit();
      if (res.succeeded) return plan.map((p) => p.result);
    }
    throw new ConflictError("services are being changed by someone else; try again");
  }

  /**
   * Deploys a stack in one transaction: its services are created or updated (an unchanged one
   * keeps its generation and its running replicas), services of the stack that the file no
   * longer has are removed, and its secrets and configs are replaced by `files`.
   */
  async applyStack(
    stack: string,
    specs: ServiceSpec[],
    files: Record<string, { secret: boolean; content: string }>,
    now = new Date(),
  ): Promise<{ services: ApplyResult[]; removed: string[] }> {
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const all = await this.list<ServiceRecord>(families.services);
      const byName = new Map(all.map((r) => [r.ids[0], r]));
      const stale = all.filter((r) =>
        r.value?.spec?.stack === stack && !specs.some((s) => s.name === r.ids[0])
      );
      const plan = specs.map((spec) => planApply(spec, byName.get(spec.name), now));
      const storedFiles = await this.list<unknown>(families.secrets, stack);
      const filePuts = Object.entries(files).filter(([name, value]) => {
        const stored = storedFiles.find((f) => f.ids[1] === name);
        return !stored || JSON.stringify(stored.value) !== JSON.stringify(value);
      });
      const fileDeletes = storedFiles.filter((f) => !Object.hasOwn(files, f.ids[1]));
      let txn = this.client.if(
        keyOf(families.services, specs[0].name),
        "Mod",
        "==",
        byName.get(specs[0].name)?.modRevision ?? 0,
      );
      for (const spec of specs.slice(1)) {
        txn = txn.and(
          keyOf(families.services, spec.name),
          "Mod",
          "==",
          byName.get(spec.name)?.modRevision ?? 0,
        );
      }
      for (const r of stale) {
        txn = txn.and(keyOf(families.services, r.ids[0]), "Mod", "==", r.modRevision);
      }
      const ops = [
        ...plan.filter((p) => p.record).map((p) =>
          this.client.put(keyOf(families.services, p.result.name)).value(JSON.stringify(p.record))
        ),
        ...stale.map((r) => this.client.delete().key(keyOf(families.services, r.ids[0]))),
        ...filePuts.map(([name, value]) =>
          this.client.put(keyOf(families.secrets, stack, name)).value(JSON.stringify(value))
        ),
        ...fileDeletes.map((f) =>
          this.client.delete().key(keyOf(families.secrets, stack, f.ids[1]))
        ),
      ];
      if (ops.length === 0) return { services: plan.map((p) => p.result), removed: [] };
      const res = await txn.then(...ops).commit();
      if (res.succeeded) {
        return { services: plan.map((p) => p.result), removed: stale.map((r) => r.ids[0]) };
      }
    }
    throw new ConflictError("the stack is being changed by someone else; try again");
  }

  /** Removes every service of a stack and its secrets, at once; returns the names removed. */
  async removeStack(stack: string): Promise<string[]> {
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const all = await this.list<ServiceRecord>(families.services);
      const ours = all.filter((r) => r.value?.spec?.stack === stack);
      if (ours.length === 0) {
        // Its services removed one by one: its secrets must not stay behind.
        await this.client.delete().prefix(prefixOf(families.secrets, stack)).exec();
        return [];
      }
      const key = (r: Versioned<ServiceRecord>) => keyOf(families.services, r.ids[0]);
      let txn = this.client.if(key(ours[0]), "Mod", "==", ours[0].modRevision);
      for (const r of ours.slice(1)) txn = txn.and(key(r), "Mod", "==", r.modRevision);
      const res = await txn.then(
        ...ours.map((r) => this.client.delete().key(key(r))),
        this.client.delete().prefix(prefixOf(families.secrets, stack)),
      ).commit();
      if (res.succeeded) return ours.map((r) => r.ids[0]);
    }
    throw new ConflictError("the stack is being changed by someone else; try again");
  }

  /**
   * Restarts a service's replicas: the same spec at the next generation, so they roll one at a
   * time as an update does (Swarm's `service update --force`). False when there is no such service.
   */
  async restartService(name: string, now = new Date()): Promise<boolean> {
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const current = await this.get<ServiceRecord>(families.services, name);
      if (!current) return false;
      const old = current.value;
      const record: ServiceRecord = {
        ...old,
        generation: old.generation + 1,
        updatedAt: now.toISOString(),
        previous: { generation: old.generation, spec: old.spec },
      };
      if (await this.putIf(families.services, [name], current.modRevision, record)) return true;
    }
    throw new ConflictError("the service is being changed by someone else; try again");
  }

  /** Removes a service; its assignments follow through the scheduler. */
  removeService(name: string): Promise<boolean> {
    return this.delete(families.services, name);
  }

  /** Writes or clears one assignment. */
  putAssignment(a: Assignment): Promise<void> {
    return this.put(families.assignments, [a.service, String(a.replica)], a);
  }

  /** Deletes one assignment. */
  deleteAssignment(service: string, replica: number): Promise<boolean> {
    return this.delete(families.assignments, service, String(replica));
  }

  /** Records why a service cannot be placed. */
  putPlacementProblem(p: PlacementProblem): Promise<void> {
    return this.put(families.placement, [p.service], p);
  }

  /** Clears a service's placement problem. */
  deletePlacementProblem(service: string): Promise<boolean> {
    return this.delete(families.placement, service);
  }

  /** The ids of a replica status record. */
  static replicaIds(r: Pick<ReplicaStatus, "node" | "service" | "replica">): string[] {
    return [r.node, r.service, String(r.replica)];
  }
}

function planApply(
  spec: ServiceSpec,
  current: Versioned<ServiceRecord> | undefined,
  now: Date,
): { result: ApplyResult; record?: ServiceRecord } {
  const stamp = now.toISOString();
  if (!current) {
    const record = { spec, generation: 1, createdAt: stamp, updatedAt: stamp };
    return { result: { name: spec.name, generation: 1, created: true, changed: true }, record };
  }
  const old = current.value;
  if (sameSpec(old.spec, spec)) {
    return {
      result: { name: spec.name, generation: old.generation, created: false, changed: false },
    };
  }
  const bumped = !sameContainers(old.spec, spec);
  const generation = bumped ? old.generation + 1 : old.generation;
  const previous = bumped ? { generation: old.generation, spec: old.spec } : old.previous;
  const record: ServiceRecord = {
    spec,
    generation,
    createdAt: old.createdAt,
    updatedAt: stamp,
    ...(previous ? { previous } : {}),
  };
  return { result: { name: spec.name, generation, created: false, changed: true }, record };
}
