/**
 * compose's `depends_on`: a service of a stack starts only once the services it names are up
 * (`service_started`: a replica runs; `service_healthy`: one is ready, its health check passed;
 * `service_completed_successfully`: one exited with 0), wherever in the cluster they run. As
 * with compose, only the start waits: a dependency that stops later does not stop this one.
 * @module
 */
import type { ReplicaStatus, ServiceSpec } from "../state/types.ts";
import { dnsForm } from "../spec/compose_service.ts";

/** What the check reads: a service's replicas, as their nodes report them. */
export interface ReplicaSource {
  replicasOf(service: string): ReplicaStatus[];
}

/** Why `spec` may not start yet (one line for its status), or undefined when it may. */
export function dependencyWait(view: ReplicaSource, spec: ServiceSpec): string | undefined {
  if (!spec.stack) return undefined;
  for (const dep of spec.dependsOn ?? []) {
    const name = `${dnsForm(dep.service)}.${spec.stack}`;
    const replicas = view.replicasOf(name);
    const met = dep.condition === "healthy"
      ? replicas.some((r) => r.ready)
      : dep.condition === "completed"
      ? replicas.some((r) => r.state === "exited" && r.exitCode === 0)
      : replicas.some((r) => r.state === "running");
    if (!met) {
      const what = { started: "to run", healthy: "to be healthy", completed: "to finish" };
      return `waiting for ${dep.service} ${what[dep.condition]} (depends_on)`;
    }
  }
  return undefined;
}
