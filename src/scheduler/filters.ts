/**
 * Placement as a chain of small filters, after swarmkit's: each has a name and says why it
 * rejects a node, so a service that cannot be placed tells the user what is missing.
 * @module
 */
import type { NodeRecord, ServiceSpec } from "../state/types.ts";

/** One placement rule. */
export interface Filter {
  name: string;
  /** True when the node may run the service. */
  accepts(spec: ServiceSpec, node: NodeRecord): boolean;
  /** Why no node passed, for the user. */
  explain(spec: ServiceSpec): string;
}

/** The filters every placement goes through, in order. */
export const FILTERS: readonly Filter[] = [
  {
    name: "ready",
    accepts: (_spec, node) => node.state === "ready",
    explain: () => "no node is ready",
  },
  {
    name: "arch",
    accepts: (spec, node) =>
      !spec.placement.arch?.length || spec.placement.arch.includes(node.arch),
    explain: (spec) => `no ready node has arch ${spec.placement.arch?.join(" or ")}`,
  },
  {
    name: "site",
    accepts: (spec, node) =>
      !spec.placement.sites?.length || spec.placement.sites.includes(node.site),
    explain: (spec) => `no ready node is in site ${spec.placement.sites?.join(" or ")}`,
  },
  {
    name: "labels",
    accepts: (spec, node) =>
      Object.entries(spec.placement.labels ?? {}).every(([k, v]) => node.labels[k] === v),
    explain: (spec) =>
      `no ready node has labels ${
        Object.entries(spec.placement.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",")
      }`,
  },
];

/** The nodes that pass every filter, or the explanation of the first filter that left none. */
export function eligibleNodes(
  spec: ServiceSpec,
  nodes: NodeRecord[],
): { nodes: NodeRecord[]; reason?: string } {
  let left = nodes;
  for (const f of FILTERS) {
    const next = left.filter((n) => f.accepts(spec, n));
    if (next.length === 0) return { nodes: [], reason: f.explain(spec) };
    left = next;
  }
  return { nodes: left };
}
