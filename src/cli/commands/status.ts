/**
 * `fossora status`: this node and the cluster at a glance.
 * @module
 */
import type { ClusterAnswer, EventsAnswer, ServicesAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { formatRows, formatTable } from "../table.ts";
import { eventsTable, servicesTable } from "./services.ts";

/** Events `fossora status` shows. */
export const STATUS_EVENTS = 10;

/** The status text: cluster, this node, leader, members, services, then what happened lately. */
export function statusText(
  cluster: ClusterAnswer,
  services: ServicesAnswer,
  events?: EventsAnswer,
): string {
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
  const recent = events?.events.length
    ? `\nrecent events (fossora services NAME shows a service's own):\n${
      eventsTable(events.events)
    }`
    : "";
  return `${head}${warnings}\n${members}\n${servicesTable(services.services)}${recent}`;
}

/** Runs `fossora status`. */
export async function status(ctx: Context): Promise<number> {
  const [cluster, services, events] = await Promise.all([
    ctx.client.json<ClusterAnswer>("GET", "/api/v1/cluster"),
    ctx.client.json<ServicesAnswer>("GET", "/api/v1/services"),
    // An agent from before events has no such route: status goes on without them.
    ctx.client.json<EventsAnswer>("GET", `/api/v1/events?limit=${STATUS_EVENTS}`)
      .catch(() => undefined),
  ]);
  if (ctx.args.json) {
    printJson(ctx, { cluster, services: services.services, events: events?.events ?? [] });
  } else ctx.io.stdout(statusText(cluster, services, events));
  return 0;
}
