/**
 * The runtime's decisions, as pure functions of (wanted, actual containers, memory, now), in the
 * shape of swarmkit's task controller: each call returns the next steps toward wanted, and a dumb
 * loop performs them. Nothing here touches Docker or the clock, so every case is a plain test.
 * @module
 */
import { type Observed, replicaKey, type WantedReplica } from "./labels.ts";

/** Restarts and retries start at this delay and double... */
export const BACKOFF_BASE_MS = 1_000;
/** ...up to this cap. */
export const BACKOFF_CAP_MS = 30_000;
/** A container that ran this long before exiting restarts without the accumulated backoff. */
export const HEALTHY_RUN_MS = 30_000;

/** What the runtime remembers about one replica between passes (its backoff state). */
export interface ReplicaMemory {
  /** The generation these counters belong to; a new generation starts from scratch. */
  generation: number;
  /** Times the runtime restarted the container after it exited. */
  restarts: number;
  /** Consecutive short-lived runs; drives the restart backoff. */
  crashes: number;
  /** The last exit seen: which container, Docker's finish time, and our clock when we saw it. */
  exit?: { container: string; finishedAt: number; seenAt: number };
  /** The last failed step (pull, create, start) and when it may be tried again. */
  failure?: { message: string; count: number; retryAt: number };
  /** True while the image is being pulled. */
  pulling: boolean;
  /** Id of the container whose HTTP port answered the last probe. */
  ready?: string;
  /**
   * What the search for an HTTP port among its `detectHttp` ports found on one container: the
   * port that answered HTTP, or none yet; `tries` counts the searches.
   */
  web?: { container: string; port?: number; tries: number };
  /** Why the replica's container is not created yet: what it waits for (`depends_on`). */
  waiting?: string;
}

/** One step the loop performs. All steps of one replica run in order, one replica at a time. */
export type Action =
  | { kind: "create"; key: string; wanted: WantedReplica }
  | { kind: "start"; key: string; container: string; restart: boolean; crashes: number }
  /** `grace`: the container's own stop timeout (seconds), when it was created with one. */
  | { kind: "remove"; key: string; container: string; reason: string; grace?: number }
  /** Stops a running container that its health check calls unhealthy; it restarts as exited. */
  | { kind: "stop"; key: string; container: string; reason: string; grace?: number }
  | { kind: "forget"; key: string; service: string; replica: number };

/** The steps to take now, and when to look again if nothing else happens. */
export interface Plan {
  actions: Action[];
  /** Earliest time a waiting step (restart, retry) becomes due; undefined when none waits. */
  wakeAt?: number;
}

/** Everything a decision depends on. */
export interface PlanInput {
  wanted: readonly WantedReplica[];
  actual: readonly Observed[];
  memory: ReadonlyMap<string, ReplicaMemory>;
  now: number;
}

/** Delay before attempt `n` (0-based): 1 s, 2 s, 4 s ... capped at 30 s. */
export function backoff(n: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.min(Math.max(n, 0), 30), BACKOFF_CAP_MS);
}

/** Memory for a replica the runtime has not acted on yet. */
export function freshMemory(generation: number): ReplicaMemory {
  return { generation, restarts: 0, crashes: 0, pulling: false };
}

/** Groups containers by replica key. */
export function byReplica(actual: readonly Observed[]): Map<string, Observed[]> {
  const out = new Map<string, Observed[]>();
  for (const c of actual) {
    const key = replicaKey(c.service, c.replica);
    out.set(key, [...(out.get(key) ?? []), c]);
  }
  return out;
}

/** The container that serves a wanted replica: right generation, running first, newest first. */
export function pickContainer(
  w: WantedReplica,
  containers: readonly Observed[],
): Observed | undefined {
  return containers
    .filter((c) => c.generation === w.generation && c.status !== "dead" && c.status !== "removing")
    .sort((a, b) =>
      Number(b.running) - Number(a.running) || b.startedAt - a.startedAt || a.id.localeCompare(b.id)
    )[0];
}

/**
 * Brings memory up to date with what was observed: an entry for every wanted replica (reset when
 * its generation changed) and the time each new exit was first seen, on our own clock.
 */
export function observe(input: PlanInput): Map<string, ReplicaMemory> {
  const memory = new Map(input.memory);
  const groups = byReplica(input.actual);
  for (const w of input.wanted) {
    const key = replicaKey(w.service, w.replica);
    let mem = memory.get(key);
    if (!mem || mem.generation !== w.generation) mem = freshMemory(w.generation);
    const c = pickContainer(w, groups.get(key) ?? []);
    if (c && !c.running && c.status === "exited") {
      const seen = mem.exit;
      if (!seen || seen.container !== c.id || seen.finishedAt !== c.finishedAt) {
        mem = { ...mem, exit: { container: c.id, finishedAt: c.finishedAt, seenAt: input.now } };
      }
    }
    if (mem.ready && mem.ready !== c?.id) mem = { ...mem, ready: undefined };
    memory.set(key, mem);
  }
  // An unwanted replica that still has containers is remembered, so it is forgotten once they
  // are gone, even when this runtime never ran it (adopted after an agent restart).
  for (const [key, containers] of groups) {
    if (!memory.has(key)) memory.set(key, freshMemory(containers[0].generation));
  }
  return memory;
}

/** Folds a due time into the earliest one. */
function earliest(a: number | undefined, b: number): number {
  return a === undefined ? b : Math.min(a, b);
}

/** The container's own stop grace period, which its stop honours. */
function grace(c: Observed): { grace?: number } {
  return c.stopTimeout === undefined ? {} : { grace: c.stopTimeout };
}

/** The steps for one wanted replica. */
function planWanted(
  w: WantedReplica,
  key: string,
  containers: readonly Observed[],
  mem: ReplicaMemory,
  now: number,
): Plan {
  const keep = pickContainer(w, containers);
  const actions: Action[] = containers
    .filter((c) => c !== keep)
    .map((c) => ({
      kind: "remove",
      key,
      container: c.id,
      reason: c.generation === w.generation
        ? `duplicate or dead container of generation ${c.generation}`
        : `generation ${c.generation} replaced by ${w.generation}`,
      ...grace(c),
    }));
  const retryAt = mem.failure?.retryAt ?? 0;
  // After a failed step every step of this replica waits for the retry time: no tight loops.
  if (retryAt > now) return { actions: [], wakeAt: retryAt };
  // Stop the old container first: the new one is created on a later pass.
  if (!keep) {
    if (actions.length > 0) return { actions };
    return { actions: [{ kind: "create", key, wanted: w }] };
  }
  if (keep.running && keep.health?.status === "unhealthy") {
    // As Swarm replaces an unhealthy task: stopped, it restarts with the backoff of an exit.
    const why = keep.health.output || "its health check failed";
    return {
      actions: [...actions, { kind: "stop", key, container: keep.id, reason: why, ...grace(keep) }],
    };
  }
  if (keep.running || !["created", "exited"].includes(keep.status)) return { actions };
  if (keep.status === "created") {
    const start: Action = {
      kind: "start",
      key,
      container: keep.id,
      restart: false,
      crashes: mem.crashes,
    };
    return { actions: [...actions, start] };
  }
  const ran = keep.finishedAt - keep.startedAt;
  const crashes = ran >= HEALTHY_RUN_MS ? 0 : mem.crashes;
  const seenAt = mem.exit?.container === keep.id ? mem.exit.seenAt : now;
  const due = seenAt + backoff(crashes);
  if (due > now) return { actions, wakeAt: due };
  return {
    actions: [...actions, {
      kind: "start",
      key,
      container: keep.id,
      restart: true,
      crashes: crashes + 1,
    }],
  };
}

/**
 * The next steps toward wanted: create and start missing replicas, replace other generations
 * (old one removed first), restart exited containers with backoff, stop unhealthy ones (which
 * then restart as exited ones do), remove what is no longer wanted, and forget a replica once it
 * is unwanted and its containers are gone.
 */
export function plan(input: PlanInput): Plan {
  const groups = byReplica(input.actual);
  const wantedKeys = new Set<string>();
  const actions: Action[] = [];
  let wakeAt: number | undefined;
  for (const w of input.wanted) {
    const key = replicaKey(w.service, w.replica);
    wantedKeys.add(key);
    const mem = input.memory.get(key) ?? freshMemory(w.generation);
    const p = planWanted(w, key, groups.get(key) ?? [], mem, input.now);
    actions.push(...p.actions);
    if (p.wakeAt !== undefined) wakeAt = earliest(wakeAt, p.wakeAt);
  }
  for (const [key, containers] of groups) {
    if (wantedKeys.has(key)) continue;
    const retryAt = input.memory.get(key)?.failure?.retryAt ?? 0;
    if (retryAt > input.now) {
      wakeAt = earliest(wakeAt, retryAt);
      continue;
    }
    for (const c of containers) {
      actions.push({
        kind: "remove",
        key,
        container: c.id,
        reason: "no longer wanted",
        ...grace(c),
      });
    }
  }
  for (const [key, mem] of input.memory) {
    if (wantedKeys.has(key) || groups.has(key)) continue;
    const retryAt = mem.failure?.retryAt ?? 0;
    if (retryAt > input.now) {
      wakeAt = earliest(wakeAt, retryAt);
      continue;
    }
    const slash = key.lastIndexOf("/");
    actions.push({
      kind: "forget",
      key,
      service: key.slice(0, slash),
      replica: Number(key.slice(slash + 1)),
    });
  }
  return { actions, wakeAt };
}
