/**
 * `fossora rm NAME`: removes a service everywhere, or every service of the stack NAME.
 * @module
 */
import { type Context, printJson } from "../context.ts";
import { ApiFailure } from "../client.ts";

/** Runs `fossora rm NAME`. */
export async function rm(ctx: Context): Promise<number> {
  const name = ctx.args.positionals[0];
  const path = (kind: string) => `/api/v1/${kind}/${encodeURIComponent(name)}`;
  let answer: { removed: string | string[] };
  try {
    answer = await ctx.client.json<{ removed: string }>("DELETE", path("services"));
  } catch (e) {
    // A name with no dot that is no service may be a stack (SPEC: `fossora rm STACK`).
    if (!(e instanceof ApiFailure && e.status === 404) || name.includes(".")) throw e;
    try {
      answer = await ctx.client.json<{ removed: string[] }>("DELETE", path("stacks"));
    } catch (stackError) {
      if (stackError instanceof ApiFailure && stackError.status === 404) {
        throw new ApiFailure(
          404,
          "not_found",
          `no service or stack named ${JSON.stringify(name)}; list them with ` +
            "`fossora services` and `fossora stacks`",
        );
      }
      throw stackError;
    }
  }
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout([answer.removed].flat().map((n) => `removed ${n}\n`).join(""));
  return 0;
}
