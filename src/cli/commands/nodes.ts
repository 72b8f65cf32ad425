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

/** Runs `fossora nodes`. */
export async function nodes(ctx: Context): Promise<number> {
  const answer = await ctx.client.json<NodesAnswer>("GET", "/api/v1/nodes");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(nodesTable(answer.nodes, ctx.io.now()));
  return 0;
}
