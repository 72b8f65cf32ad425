/**
 * `fossora nodes`: one row a node.
 * @module
 */
import type { DrainAnswer, NodesAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { ago, formatTable } from "../table.ts";
import type { NodeSummary } from "../../api/mod.ts";

/** The nodes table: NAME ADDRESS ARCH SITE ROLE STATE REPLICAS LAST SEEN. */
export function nodesTable(nodes: NodeSummary[], now: Date): string {
  return formatTable(
    ["NAME", "ADDRESS", "ARCH", "SITE", "ROLE", "STATE", "REPLICAS", "LAST SEEN"],
    nodes.map((n) => [
      n.name,
      n.address,
      n.arch,
      n.site,
      n.role,
      n.drained ? `${n.state}, drained` : n.state,
      String(n.replicas ?? "-"),
      ago(n.lastSeen, now),
    ]),
  );
}

/** How long `nodes drain` waits for the node's replicas to move before it gives up waiting. */
export const DRAIN_WAIT_MS = 10 * 60_000;
const DRAIN_POLL_MS = 1000;

/**
 * Runs `fossora nodes drain NAME` (or `undrain`): a drain then waits until the node runs no
 * replica, saying how many are left as the number changes.
 */
async function drain(ctx: Context, name: string, on: boolean): Promise<number> {
  const answer = await ctx.client.json<DrainAnswer>(
    "POST",
    `/api/v1/nodes/${encodeURIComponent(name)}/${on ? "drain" : "undrain"}`,
  );
  if (ctx.args.json) {
    printJson(ctx, answer);
    return 0;
  }
  ctx.io.stdout(`${answer.message}\n`);
  if (!on) return 0;
  const until = ctx.io.now().getTime() + DRAIN_WAIT_MS;
  let told: number | undefined;
  while (true) {
    const { nodes } = await ctx.client.json<NodesAnswer>("GET", "/api/v1/nodes");
    const left = nodes.find((n) => n.name === name)?.replicas ?? 0;
    if (left === 0) {
      ctx.io.stdout(`${name} runs no replica now\n`);
      return 0;
    }
    if (left !== told) ctx.io.stdout(`${name}: ${left} replica${left === 1 ? "" : "s"} to move\n`);
    told = left;
    if (ctx.io.now().getTime() > until) {
      ctx.io.stderr(
        `fossora: ${name} still runs ${left} replica(s) after ${DRAIN_WAIT_MS / 60_000} min: ` +
          "see why with `fossora services` (a service with nowhere else to go stays)\n",
      );
      return 1;
    }
    await ctx.io.sleep(DRAIN_POLL_MS);
  }
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

/**
 * Runs `fossora leave [NAME]`: waits until the cluster has taken the node's vote and let it go.
 */
export async function leave(ctx: Context): Promise<number> {
  // The agent answers once its replicas have moved (up to 2 min) and the cluster has moved
  // this node's vote (up to 90 s).
  const name = ctx.args.positionals[0];
  const answer = await ctx.client.json<{ left: string; message: string }>(
    "POST",
    name ? `/api/v1/nodes/${encodeURIComponent(name)}/leave` : "/api/v1/leave",
    undefined,
    { timeoutMs: 240_000 },
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
  const sub = ctx.args.positionals[0];
  if (sub === "drain" || sub === "undrain") {
    return await drain(ctx, ctx.args.positionals[1], sub === "drain");
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
