/**
 * A read-only, in-memory view of the cluster, answered without touching etcd. The data plane
 * (proxy, DNS) and the API read from it so they keep answering while etcd is unreachable.
 * @module
 */
import type {
  ClusterEvent,
  ClusterInfo,
  DrainRecord,
  MemberRecord,
  NodeRecord,
  PlacementProblem,
  ReplicaStatus,
  ServiceRecord,
  ServiceSpec,
} from "./types.ts";

/** The last known state of the cluster. */
export interface ClusterView {
  cluster(): ClusterInfo | undefined;
  service(name: string): ServiceRecord | undefined;
  services(): ServiceRecord[];
  /** Replicas of one service, on every node, as their nodes reported them. */
  replicasOf(service: string): ReplicaStatus[];
  /** The live nodes (their leased records), by name. */
  nodes(): NodeRecord[];
  node(id: string): NodeRecord | undefined;
  /** Every admitted node, live or not, by name. */
  members(): MemberRecord[];
  /** Why a service cannot be placed, while the scheduler says it cannot. */
  placementProblem(service: string): PlacementProblem | undefined;
  /** The events kept, newest first; with `service`, only that service's. */
  events(service?: string): ClusterEvent[];
  /** The drain of a node (by id), while it is drained. */
  drain(node: string): DrainRecord | undefined;
}

/**
 * The service a name under DOMAIN stands for: the service of that name (`whoami`,
 * `web.nextcloud`), or, for a stack's name, the stack's front service. Undefined for neither.
 */
export function serviceByName(view: ClusterView, name: string): ServiceRecord | undefined {
  return view.service(name) ??
    (name.includes(".")
      ? undefined
      : view.services().find((r) => r.spec.stack === name && r.spec.front === true));
}

/** The URL a service is served at, when it has an HTTP port (its own or one detected). */
export function serviceUrl(
  spec: ServiceSpec,
  domain: string,
  replicas: ReplicaStatus[] = [],
): string | null {
  const web = spec.ports.some((p) => p.http) || replicas.some((r) => r.httpPort !== undefined);
  return web ? `http://${spec.name}.${domain}/` : null;
}

/** True when `name` is a stack's name: the parent of its services' names. */
export function isStackName(view: ClusterView, name: string): boolean {
  return view.services().some((r) => r.spec.stack === name);
}

/** A view backed by plain maps; the etcd mirror fills one, and tests fill one by hand. */
export class MemoryView implements ClusterView {
  info: ClusterInfo | undefined;
  readonly serviceMap = new Map<string, ServiceRecord>();
  /** Keyed by `node/service/replica`. */
  readonly replicaMap = new Map<string, ReplicaStatus>();
  readonly nodeMap = new Map<string, NodeRecord>();
  readonly memberMap = new Map<string, MemberRecord>();
  readonly placementMap = new Map<string, PlacementProblem>();
  /** Keyed by event id. */
  readonly eventMap = new Map<string, ClusterEvent>();
  /** Keyed by node id. */
  readonly drainMap = new Map<string, DrainRecord>();

  cluster(): ClusterInfo | undefined {
    return this.info;
  }
  service(name: string): ServiceRecord | undefined {
    return this.serviceMap.get(name);
  }
  services(): ServiceRecord[] {
    return [...this.serviceMap.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }
  replicasOf(service: string): ReplicaStatus[] {
    return [...this.replicaMap.values()]
      .filter((r) => r.service === service)
      .sort((a, b) => a.replica - b.replica || a.node.localeCompare(b.node));
  }
  nodes(): NodeRecord[] {
    return [...this.nodeMap.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  node(id: string): NodeRecord | undefined {
    return this.nodeMap.get(id);
  }
  members(): MemberRecord[] {
    return [...this.memberMap.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
  placementProblem(service: string): PlacementProblem | undefined {
    return this.placementMap.get(service);
  }
  events(service?: string): ClusterEvent[] {
    return [...this.eventMap.values()]
      .filter((e) => service === undefined || e.service === service)
      .sort((a, b) => b.id.localeCompare(a.id));
  }
  drain(node: string): DrainRecord | undefined {
    return this.drainMap.get(node);
  }
  /** Every recorded placement problem. */
  placementProblems(): PlacementProblem[] {
    return [...this.placementMap.values()];
  }

  /** Sets or replaces a replica's status (for tests and the mirror). */
  putReplica(r: ReplicaStatus): void {
    this.replicaMap.set(`${r.node}/${r.service}/${r.replica}`, r);
  }
}

/**
 * A view that answers from whichever view it was last pointed at. The servers hold one for
 * their whole life, so the agent can start them on the snapshot from disk and move them to the
 * mirror once etcd has been read, without restarting anything.
 */
export class SwitchView implements ClusterView {
  #current: ClusterView;

  constructor(initial: ClusterView = new MemoryView()) {
    this.#current = initial;
  }

  /** The view answers come from now. */
  get current(): ClusterView {
    return this.#current;
  }

  /** Answers from `view` from now on. */
  use(view: ClusterView): void {
    this.#current = view;
  }

  cluster(): ClusterInfo | undefined {
    return this.#current.cluster();
  }
  service(name: string): ServiceRecord | undefined {
    return this.#current.service(name);
  }
  services(): ServiceRecord[] {
    return this.#current.services();
  }
  replicasOf(service: string): ReplicaStatus[] {
    return this.#current.replicasOf(service);
  }
  nodes(): NodeRecord[] {
    return this.#current.nodes();
  }
  node(id: string): NodeRecord | undefined {
    return this.#current.node(id);
  }
  members(): MemberRecord[] {
    return this.#current.members();
  }
  placementProblem(service: string): PlacementProblem | undefined {
    return this.#current.placementProblem(service);
  }
  events(service?: string): ClusterEvent[] {
    return this.#current.events(service);
  }
  drain(node: string): DrainRecord | undefined {
    return this.#current.drain(node);
  }
}
