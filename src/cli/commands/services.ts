/**
 * `fossora services`: one row a service.
 * @module
 */
import type { ServiceDetail, ServicesAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { ago, formatRows, formatTable } from "../table.ts";
import type { ServiceSummary } from "../../api/mod.ts";
import type { ClusterEvent } from "../../state/types.ts";

/** Events as TIME EVENT rows, newest first. */
export function eventsTable(events: ClusterEvent[]): string {
  if (events.length === 0) return "no events\n";
  return formatTable(["TIME", "EVENT"], events.map((e) => [e.at, e.message]));
}

/** One service: its fields, each replica (node, state, since), and its events. */
export function serviceText(s: ServiceDetail, now: Date): string {
  const head = formatRows([
    ["service", `${s.name} (generation ${s.generation})`],
    ["image", s.spec.image],
    ["state", s.state + (s.problem ? `: ${s.problem}` : "")],
    ["url", s.url ?? "-"],
    ["replicas", `${s.replicas.filter((r) => r.ready).length} ready of ${s.spec.replicas}`],
  ]);
  const replicas = s.replicas.length
    ? formatTable(
      ["REPLICA", "NODE", "STATE", "READY", "SINCE", "RESTARTS", "CONTAINER"],
      s.replicas.map((r) => [
        String(r.replica),
        r.node,
        r.state,
        r.ready ? "yes" : "no",
        ago(r.since, now),
        String(r.restarts),
        r.containerId?.slice(0, 12) ?? "-",
      ]),
    )
    : "no replica runs\n";
  // Agents from before these send none.
  const nodes = s.nodes?.length
    ? formatTable(
      ["NODE", "PLACEMENT"],
      s.nodes.map((n) => [n.node, n.eligible ? "eligible" : n.reason ?? "not eligible"]),
    ) + "\n"
    : "";
  return `${head}\n${replicas}\n${nodes}${eventsTable(s.events ?? [])}`;
}

/** The services table: NAME STACK IMAGE REPLICAS (running/wanted) NODES URL. */
export function servicesTable(services: ServiceSummary[]): string {
  if (services.length === 0) return "no services yet; deploy one with `fossora deploy FILE`\n";
  const problems = services.filter((s) => s.problem).map((s) => `${s.name}: ${s.problem}\n`);
  // A stack's services sit together, under plain services (SPEC: grouped by stack).
  const grouped = [...services].sort((a, b) =>
    (a.stack ?? "").localeCompare(b.stack ?? "") || a.name.localeCompare(b.name)
  );
  return formatTable(
    ["NAME", "STACK", "IMAGE", "REPLICAS", "NODES", "URL"],
    grouped.map((s) => [
      s.name,
      s.stack ?? "-",
      s.image,
      `${s.running}/${s.replicas}`,
      s.nodes.join(",") || "-",
      s.url ?? publishedPorts(s),
    ]),
  ) + (problems.length ? "\n" + problems.join("") : "");
}

/** Runs `fossora services` (one service with `services NAME`). */
export async function services(ctx: Context): Promise<number> {
  const name = ctx.args.positionals[0];
  if (name !== undefined) {
    const one = await ctx.client.json<ServiceDetail>(
      "GET",
      `/api/v1/services/${encodeURIComponent(name)}`,
    );
    if (ctx.args.json) printJson(ctx, one);
    else ctx.io.stdout(serviceText(one, ctx.io.now()));
    return 0;
  }
  const answer = await ctx.client.json<ServicesAnswer>("GET", "/api/v1/services");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(servicesTable(answer.services));
  return 0;
}

/** `tcp:25565,udp:9999` for a service reached only on published ports; `-` for none. */
function publishedPorts(s: { published: number[]; publishedUdp?: number[] }): string {
  const ports = [
    ...s.published.map((p) => `tcp:${p}`),
    ...(s.publishedUdp ?? []).map((p) => `udp:${p}`),
  ];
  return ports.length ? ports.join(",") : "-";
}
