/**
 * `fossora ui setup-code`: prints the code the web UI's first-run page asks for.
 * @module
 */
import { type Context, printJson } from "../context.ts";
import { UsageError } from "../errors.ts";

/** Runs `fossora ui SUBCOMMAND`. */
export async function ui(ctx: Context): Promise<number> {
  const sub = ctx.args.positionals[0];
  if (sub !== "setup-code") throw new UsageError("give a subcommand: fossora ui setup-code", "ui");
  const answer = await ctx.client.json<{ code: string }>("GET", "/api/v1/ui/setup-code");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(`${answer.code}\n`);
  return 0;
}
