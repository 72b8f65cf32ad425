/**
 * `fossora status`: this node and the cluster at a glance.
 * @module
 */
import type { ClusterAnswer, ServicesAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { formatRows, formatTable } from "../table.ts";
import { servicesTable } from "./services.ts";

/** The status text: cluster, this node, leader, members, then services. */
export function statusText(cluster: ClusterAnswer, services: ServicesAnswer): string {
  const head = formatRows([
    ["cluster", `${cluster.id ?? "(not formed yet)"} (domain ${cluster.domain})`],
    ["node", `${cluster.node.name} (fossora ${cluster.version})`],
    ["leader", cluster.leader?.name ?? "none (no etcd leader: is a majority of voters up?)"],
    // An agent from before this field does not send it.
    ...(cluster.resilience ? [["failures", cluster.resilience.summary]] : []),
  ]);
  // An agent from before warnings sends none.
  const warnings = (cluster.warnings ?? []).map((w) => `warning: ${w}\n`).join("");
  const members = formatTable(
    ["MEMBER", "ADDRESS", "ROLE", "STATE", "LEADER"],
    cluster.members.map((m) => [m.name, m.address, m.role, m.state, m.leader ? "*" : ""]),
  );
  return `${head}${warnings}\n${members}\n${servicesTable(services.services)}`;
}

/** Runs `fossora status`. */
export async function status(ctx: Context): Promise<number> {
  const [cluster, services] = await Promise.all([
    ctx.client.json<ClusterAnswer>("GET", "/api/v1/cluster"),
    ctx.client.json<ServicesAnswer>("GET", "/api/v1/services"),
  ]);
  if (ctx.args.json) printJson(ctx, { cluster, services: services.services });
  else ctx.io.stdout(statusText(cluster, services));
  return 0;
}
