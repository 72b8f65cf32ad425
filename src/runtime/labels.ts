/**
 * How the runtime marks what it owns: container labels, names and volume names. Labels, not
 * names, decide ownership, so containers of other tools and of other nodes are never touched.
 * @module
 */
import type { ServiceSpec } from "../state/types.ts";
import type { ContainerState } from "./docker.ts";

/** One replica this node must run. */
export interface WantedReplica {
  service: string;
  /** 0-based replica index. */
  replica: number;
  /** The service generation the container must run. */
  generation: number;
  spec: ServiceSpec;
}

/** A container of this node, with its fossora labels parsed. */
export interface Observed extends ContainerState {
  service: string;
  replica: number;
  generation: number;
}

/** Label keys on every container and volume fossora creates. */
export const LABEL = {
  managed: "fossora.managed",
  node: "fossora.node",
  service: "fossora.service",
  replica: "fossora.replica",
  generation: "fossora.generation",
  /** On the containers of a service with volumes: it must never run twice (watchdog.ts). */
  once: "fossora.once",
} as const;

/** The labels that select this node's containers. */
export function ownerLabels(nodeId: string): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.node]: nodeId };
}

/** The full label set of a replica's container. */
export function containerLabels(w: WantedReplica, nodeId: string): Record<string, string> {
  return {
    ...ownerLabels(nodeId),
    [LABEL.service]: w.service,
    [LABEL.replica]: String(w.replica),
    [LABEL.generation]: String(w.generation),
    ...(w.spec.volumes.length > 0 ? { [LABEL.once]: "true" } : {}),
  };
}

/**
 * `fossora-<service>-<replica>-g<generation>-<node id>`. Container names are unique per Docker
 * engine, not per node: without the node id, two nodes sharing one engine (workers on one
 * dockerd) would fight over the name when a replica moves between them while the old node still
 * holds its container, and the second would be refused.
 */
export function containerName(
  w: { service: string; replica: number; generation: number },
  nodeId: string,
): string {
  return `fossora-${w.service}-${w.replica}-g${w.generation}-${nodeId}`;
}

/**
 * `fossora-<service>-<volume>`: shared by every generation so data survives a redeploy. A
 * stack's volume that several of its services mount is `fossora_<stack>_<volume>` (a service
 * name has no `_`, so the two forms never meet).
 */
export function volumeName(
  spec: { name: string; stack?: string },
  volume: { name: string; shared?: true },
): string {
  return volume.shared && spec.stack
    ? `fossora_${spec.stack}_${volume.name}`
    : `fossora-${spec.name}-${volume.name}`;
}

/** The map key of a replica. */
export function replicaKey(service: string, replica: number): string {
  return `${service}/${replica}`;
}

/** True when the container carries this node's ownership labels. */
export function ownedBy(c: ContainerState, nodeId: string): boolean {
  return c.labels[LABEL.managed] === "true" && c.labels[LABEL.node] === nodeId;
}

/** Parses the replica labels; undefined when they are missing or malformed. */
export function parseObserved(c: ContainerState): Observed | undefined {
  const service = c.labels[LABEL.service];
  const replica = c.labels[LABEL.replica] ?? "";
  const generation = c.labels[LABEL.generation] ?? "";
  if (!service || !/^\d{1,9}$/.test(replica) || !/^\d{1,15}$/.test(generation)) return undefined;
  return { ...c, service, replica: Number(replica), generation: Number(generation) };
}
