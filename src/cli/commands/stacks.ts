/**
 * `fossora stacks`: one row a stack.
 * @module
 */
import type { StacksAnswer, StackSummary } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { formatTable } from "../table.ts";

/** The stacks table: STACK SERVICES STATE URL. */
export function stacksTable(stacks: StackSummary[]): string {
  if (stacks.length === 0) {
    return "no stacks yet; deploy a docker-compose.yml with `fossora deploy FILE`\n";
  }
  return formatTable(
    ["STACK", "SERVICES", "STATE", "URL"],
    stacks.map((s) => [
      s.name,
      s.services.map((x) => x.name.slice(0, x.name.lastIndexOf("."))).join(","),
      s.state,
      s.url ?? "-",
    ]),
  );
}

/** Runs `fossora stacks`. */
export async function stacks(ctx: Context): Promise<number> {
  const answer = await ctx.client.json<StacksAnswer>("GET", "/api/v1/stacks");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(stacksTable(answer.stacks));
  return 0;
}
