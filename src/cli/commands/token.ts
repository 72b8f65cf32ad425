/**
 * `fossora token`: prints the cluster's join token.
 * @module
 */
import { type Context, printJson } from "../context.ts";

/** Runs `fossora token`. */
export async function token(ctx: Context): Promise<number> {
  const answer = await ctx.client.json<{ token: string }>("GET", "/api/v1/token");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(`${answer.token}\n`);
  return 0;
}
