/**
 * `fossora nodes`: one row a node.
 * @module
 */
import type { NodesAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { ago, formatTable } from "../table.ts";
import type { NodeRecord } from "../../state/types.ts";

/** The nodes table: NAME ADDRESS ARCH SITE ROLE STATE LAST SEEN. */
export function nodesTable(nodes: NodeRecord[], now: Date): string {
  return formatTable(
    ["NAME", "ADDRESS", "ARCH", "SITE", "ROLE", "STATE", "LAST SEEN"],
    nodes.map((n) => [n.name, n.address, n.arch, n.site, n.role, n.state, ago(n.lastSeen, now)]),
  );
}

/** One admission log line, as the API answers it. */
interface AdmissionEvent {
  at: number;
  name: string;
  event: string;
  detail: string;
}

/** The admission log: TIME NODE EVENT DETAIL, oldest first. */
export function historyTable(events: AdmissionEvent[]): string {
  return formatTable(
    ["TIME", "NODE", "EVENT", "DETAIL"],
    events.map((e) => [new Date(e.at).toISOString(), e.name, e.event, e.detail]),
  );
}

/** Runs `fossora leave`: waits until the cluster has taken this node's vote and let it go. */
export async function leave(ctx: Context): Promise<number> {
  // The agent answers once the cluster has moved this node's vote: up to 90 s.
  const answer = await ctx.client.json<{ left: string; message: string }>(
    "POST",
    "/api/v1/leave",
    undefined,
    { timeoutMs: 120_000 },
  );
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(`${answer.left}: ${answer.message}\n`);
  return 0;
}

/** Runs `fossora nodes` (and `nodes approve NAME`, `nodes rm NAME`). */
export async function nodes(ctx: Context): Promise<number> {
  if (ctx.args.positionals[0] === "rm") {
    const name = ctx.args.positionals[1];
    const answer = await ctx.client.json<{ removed: string; message: string }>(
      "DELETE",
      `/api/v1/nodes/${encodeURIComponent(name)}`,
    );
    if (ctx.args.json) printJson(ctx, answer);
    else ctx.io.stdout(`${answer.message}\n`);
    return 0;
  }
  if (ctx.args.positionals[0] === "approve") {
    const name = ctx.args.positionals[1];
    const answer = await ctx.client.json<{ approved: string }>(
      "POST",
      `/api/v1/nodes/${encodeURIComponent(name)}/approve`,
    );
    if (ctx.args.json) printJson(ctx, answer);
    else ctx.io.stdout(`approved ${answer.approved}: it is admitted in its turn\n`);
    return 0;
  }
  if (ctx.args.history) {
    const log = await ctx.client.json<{ events: AdmissionEvent[] }>("GET", "/api/v1/admission");
    if (ctx.args.json) printJson(ctx, log);
    else ctx.io.stdout(historyTable(log.events));
    return 0;
  }
  const answer = await ctx.client.json<NodesAnswer>("GET", "/api/v1/nodes");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(nodesTable(answer.nodes, ctx.io.now()));
  return 0;
}
