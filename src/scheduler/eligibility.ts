/**
 * Which nodes may run a service and why the others may not, for people (the API's service
 * detail): the scheduler's own filters, on what the cluster view knows.
 * @module
 */
import type { ServiceSpec } from "../state/types.ts";
import type { ClusterView } from "../state/view.ts";
import { rejection } from "./filters.ts";
import { HostPorts } from "./host_ports.ts";
import { VolumeGroups } from "./shared_volumes.ts";

/** One live node and whether the service may run there. */
export interface NodeEligibility {
  /** The node's name. */
  node: string;
  nodeId: string;
  eligible: boolean;
  /** The first filter's reason when it is not eligible ("node2 has no /srv/media"), else null. */
  reason: string | null;
}

/**
 * Every live node with the first filter that rejects it for `spec`. A node that runs a replica
 * of the service counts as eligible (its own replica takes no room from it), and resources and
 * image platforms are left out: the view does not know them.
 */
export function nodeEligibility(view: ClusterView, spec: ServiceSpec): NodeEligibility[] {
  const services = view.services().map((s) => s.spec);
  const placed = services.flatMap((s) =>
    view.replicasOf(s.name).map((r) => ({ service: r.service, node: r.node }))
  );
  const ports = new HostPorts(services, placed, view.members());
  const groups = new VolumeGroups(services);
  const nodeOf = new Map(placed.map((p) => [p.service, p.node]));
  const ready = new Map(view.nodes().filter((n) => n.state === "ready").map((n) => [n.id, n]));
  return view.nodes().map((n) => {
    const reason = rejection(spec, n, {
      drained: (id) => view.drain(id) !== undefined,
      portHolder: (node, key, service) => ports.holder(node, key, service),
      volumeGroup: (s) => {
        const group = groups.of(s);
        return group && { group, nodeOf: (name: string) => ready.get(nodeOf.get(name) ?? "") };
      },
    });
    return { node: n.name, nodeId: n.id, eligible: !reason, reason: reason ?? null };
  });
}
