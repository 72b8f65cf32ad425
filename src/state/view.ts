/**
 * A read-only, in-memory view of the cluster, answered without touching etcd. The data plane
 * (proxy, DNS) and the API read from it so they keep answering while etcd is unreachable.
 * @module
 */
import type {
  ClusterInfo,
  NodeRecord,
  PlacementProblem,
  ReplicaStatus,
  ServiceRecord,
} from "./types.ts";

/** The last known state of the cluster. */
export interface ClusterView {
  cluster(): ClusterInfo | undefined;
  service(name: string): ServiceRecord | undefined;
  services(): ServiceRecord[];
  /** Replicas of one service, on every node, as their nodes reported them. */
  replicasOf(service: string): ReplicaStatus[];
  nodes(): NodeRecord[];
  node(id: string): NodeRecord | undefined;
  /** Why a service cannot be placed, while the scheduler says it cannot. */
  placementProblem(service: string): PlacementProblem | undefined;
}

/** A view backed by plain maps; the etcd mirror fills one, and tests fill one by hand. */
export class MemoryView implements ClusterView {
  info: ClusterInfo | undefined;
  readonly serviceMap = new Map<string, ServiceRecord>();
  /** Keyed by `node/service/replica`. */
  readonly replicaMap = new Map<string, ReplicaStatus>();
  readonly nodeMap = new Map<string, NodeRecord>();
  readonly placementMap = new Map<string, PlacementProblem>();

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
  placementProblem(service: string): PlacementProblem | undefined {
    return this.placementMap.get(service);
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
