/**
 * `fossora token`: prints the cluster's join token, and the line to run on a new machine.
 * @module
 */
import { type Context, printJson } from "../context.ts";

/** Runs `fossora token`. */
export async function token(ctx: Context): Promise<number> {
  const answer = await ctx.client.json<{ token: string; join?: string }>("GET", "/api/v1/token");
  if (ctx.args.json) {
    printJson(ctx, answer);
    return 0;
  }
  ctx.io.stdout(`${answer.token}\n`);
  if (answer.join) {
    ctx.io.stdout(
      `\nTo add a machine, run on it:\n  fossora agent --join ${answer.join} --token ${answer.token}\n`,
    );
  }
  return 0;
}
