/**
 * What a replica looks like from outside, derived purely from its container and the runtime's
 * memory, plus the comparison that decides whether a change is worth reporting.
 * @module
 */
import { portKey, type ReplicaState, type ReplicaStatus } from "../state/types.ts";
import type { ContainerHealth } from "./docker.ts";
import type { Observed, WantedReplica } from "./labels.ts";
import type { ReplicaMemory } from "./plan.ts";

/** A replica's status without the fields the runtime fills in (node, address, since). */
export type Observation = Omit<ReplicaStatus, "node" | "address" | "since">;

/** The container port of the spec's HTTP port, if it has one. */
export function httpPort(w: WantedReplica): number | undefined {
  return w.spec.ports.find((p) => p.http)?.container;
}

/** Host ports of the spec's ports, as published on the container. */
function specPorts(w: WantedReplica, c: Observed): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of w.spec.ports) {
    const host = c.ports[portKey(p)];
    if (host) out[portKey(p)] = host;
  }
  return out;
}

/** The Docker network of a stack's containers on a node. */
export function stackNetwork(stack: string): string {
  return `fossora-${stack}`;
}

/** Where the stack's other services reach the container, for a service of a stack. */
function stackFields(w: WantedReplica, c: Observed): Pick<Observation, "stackAddress" | "exposed"> {
  const stack = w.spec.stack;
  const address = stack ? c.networks?.[stackNetwork(stack)] : undefined;
  if (!stack || !address) return {};
  return { stackAddress: address, ...(c.exposed?.length ? { exposed: c.exposed } : {}) };
}

/**
 * A replica without a health check or an HTTP port is ready once its container has run this
 * long: one that dies at start (a crash loop) never looks ready to a roll or a published port.
 */
export const RUNNING_READY_MS = 3000;

/**
 * The observable status of a wanted replica. `down` is the reason Docker could not be asked at
 * all; then nothing is known about the container and the replica is in error. `now` (ms since
 * the epoch, as Docker's times) tells whether a replica without an HTTP port has run long enough.
 */
export function describe(
  w: WantedReplica,
  c: Observed | undefined,
  mem: ReplicaMemory | undefined,
  down?: string,
  now = Infinity,
): Observation {
  const base = {
    service: w.service,
    replica: w.replica,
    generation: w.generation,
    ready: false,
    ports: {},
    restarts: mem?.generation === w.generation ? mem.restarts : 0,
  };
  const failure = mem?.generation === w.generation ? mem.failure : undefined;
  if (down !== undefined) return { ...base, state: "error", message: down };
  if (mem?.pulling) return { ...base, state: "pulling", message: `pulling ${w.spec.image}` };
  if (!c) {
    if (failure) return { ...base, state: "error", message: failure.message };
    if (mem?.waiting) return { ...base, state: "pending", message: mem.waiting };
    return { ...base, state: "pending" };
  }
  const web = mem?.web?.container === c.id ? mem.web.port : undefined;
  const known = {
    ...base,
    containerId: c.id,
    ports: specPorts(w, c),
    ...(web !== undefined ? { httpPort: web } : {}),
    ...stackFields(w, c),
  };
  if (c.running && c.health && c.status !== "paused") {
    // Its health check decides, and an HTTP port must answer too.
    if (c.health.status === "unhealthy") {
      return { ...known, state: "error", message: unhealthy(c.health) };
    }
    const ready = c.health.status === "healthy" &&
      (httpPort(w) === undefined || mem?.ready === c.id);
    return ready
      ? { ...known, state: "running", ready }
      : { ...known, state: "starting", message: "waiting for its health check to pass" };
  }
  if (c.running) {
    const checked = httpPort(w) !== undefined;
    const ready = checked ? mem?.ready === c.id : now - c.startedAt >= RUNNING_READY_MS;
    // Without a port to check, it runs (and says so) before it has run long enough to count.
    const state: ReplicaState = ready || !checked ? "running" : "starting";
    return c.status === "paused"
      ? { ...known, state: "starting", message: "paused" }
      : { ...known, state, ready };
  }
  if (failure) return { ...known, state: "error", message: failure.message };
  if (c.status === "exited") {
    // Stopped for failing its health check (and about to restart): that is the news.
    const message = c.health?.status === "unhealthy"
      ? unhealthy(c.health)
      : c.error || `exited with code ${c.exitCode}`;
    return { ...known, state: "exited", exitCode: c.exitCode, message };
  }
  return { ...known, state: "starting" };
}

/** The message of a replica its health check calls unhealthy (the API's summary reads it). */
function unhealthy(health: ContainerHealth): string {
  return `unhealthy: ${health.output || "its health check failed"}`;
}

/** True when two statuses differ only in `since` (so there is nothing to report). */
export function sameStatus(a: Observation, b: Observation): boolean {
  return a.service === b.service && a.replica === b.replica &&
    a.generation === b.generation && a.state === b.state && a.ready === b.ready &&
    a.containerId === b.containerId && a.exitCode === b.exitCode &&
    a.message === b.message && a.restarts === b.restarts && samePorts(a.ports, b.ports) &&
    a.stackAddress === b.stackAddress && String(a.exposed ?? "") === String(b.exposed ?? "");
}

function samePorts(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
