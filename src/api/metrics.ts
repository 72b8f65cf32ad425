/**
 * The gauges the API adds to the agent's registry. They are computed when scraped, from the view
 * and the health callbacks, so they never go stale.
 * @module
 */
import type { Registry } from "../metrics/mod.ts";
import type { ReplicaState } from "../state/types.ts";
import type { ClusterView } from "../state/view.ts";

const REPLICA_STATES: ReplicaState[] = [
  "pending",
  "pulling",
  "starting",
  "running",
  "exited",
  "error",
];

/** Counts replicas by state over every service; every state is present, 0 when none. */
export function replicasByState(view: ClusterView): Record<ReplicaState, number> {
  const counts = Object.fromEntries(REPLICA_STATES.map((s) => [s, 0])) as Record<
    ReplicaState,
    number
  >;
  for (const s of view.services()) {
    for (const r of view.replicasOf(s.spec.name)) counts[r.state] = (counts[r.state] ?? 0) + 1;
  }
  return counts;
}

/** Registers `fossora_services`, `fossora_replicas{state}`, `fossora_etcd_healthy` and `fossora_node_ready`. */
export function registerApiMetrics(
  registry: Registry,
  o: { view: ClusterView; etcdHealthy(): boolean; ready(): boolean },
): void {
  registry.gauge("fossora_services", "Services in the cluster.", () => [
    { value: o.view.services().length },
  ]);
  registry.gauge(
    "fossora_replicas",
    "Replicas in the cluster by state.",
    () =>
      Object.entries(replicasByState(o.view)).map(([state, value]) => ({
        labels: { state },
        value,
      })),
  );
  registry.gauge("fossora_etcd_healthy", "1 when this node's etcd connection works.", () => [
    { value: o.etcdHealthy() ? 1 : 0 },
  ]);
  registry.gauge("fossora_node_ready", "1 when this node is ready.", () => [
    { value: o.ready() ? 1 : 0 },
  ]);
}
