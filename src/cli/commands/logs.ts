/**
 * `fossora logs NAME [-f] [--tail N] [--replica R]`: copies the API's log stream to stdout; with
 * -f until Ctrl-C, which ends the command normally.
 * @module
 */
import type { Context } from "../context.ts";
import { CliError } from "../errors.ts";
import { networkReason } from "../client.ts";

/** The logs route with its query for these arguments. */
export function logsPath(
  name: string,
  o: { follow: boolean; tail?: number; replica?: number },
): string {
  const q = new URLSearchParams();
  if (o.follow) q.set("follow", "1");
  if (o.tail !== undefined) q.set("tail", String(o.tail));
  if (o.replica !== undefined) q.set("replica", String(o.replica));
  const query = q.toString();
  return `/api/v1/services/${encodeURIComponent(name)}/logs${query ? "?" + query : ""}`;
}

/** Runs `fossora logs`. */
export async function logs(ctx: Context): Promise<number> {
  const { args, io, client } = ctx;
  const stop = new AbortController();
  const release = io.onInterrupt(() => stop.abort());
  try {
    const stream = await client.stream(logsPath(args.positionals[0], args), stop.signal);
    const reader = stream.getReader();
    stop.signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        io.stdout(decoder.decode(value, { stream: true }));
      }
    } catch (e) {
      if (!stop.signal.aborted) {
        throw new CliError(
          `the log stream from ${client.baseUrl} broke (${
            networkReason(e)
          }); run the command again`,
          [],
          { cause: e },
        );
      }
    }
    const rest = decoder.decode();
    if (rest) io.stdout(rest);
    return 0;
  } catch (e) {
    if (stop.signal.aborted) return 0;
    throw e;
  } finally {
    release();
  }
}
