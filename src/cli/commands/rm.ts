/**
 * `fossora rm NAME`: removes a service everywhere.
 * @module
 */
import { type Context, printJson } from "../context.ts";

/** Runs `fossora rm NAME`. */
export async function rm(ctx: Context): Promise<number> {
  const name = ctx.args.positionals[0];
  const answer = await ctx.client.json<{ removed: string }>(
    "DELETE",
    `/api/v1/services/${encodeURIComponent(name)}`,
  );
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(`removed ${name}\n`);
  return 0;
}
