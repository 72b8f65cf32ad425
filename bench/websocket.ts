/**
 * The WebSocket figure: echoes a second through a proxy to the echo backend, counted by
 * bench/ws_load.ts in a process of its own.
 * @module
 */
import { run } from "./exec.ts";
import { parseWsResult, wsArgs, type WsLoadOptions, type WsResult } from "./ws_load.ts";

const CLIENT = new URL("./ws_load.ts", import.meta.url).pathname;

/** Echoes a second of a client run; 0 for an empty window. */
export function messagesPerSec(r: WsResult): number {
  return r.seconds > 0 ? r.messages / r.seconds : 0;
}

/** Why a WebSocket figure cannot be trusted as-is, if any. */
export function wsProblems(r: WsResult): string[] {
  if (r.errors === 0) return [];
  return [`${r.errors} WebSocket errors (${r.firstErrors.join("; ")})`];
}

/** Runs the client once (as `deno run`, like the bench) and returns its result. */
export async function measureWebSocket(o: WsLoadOptions): Promise<WsResult> {
  const r = await run(
    Deno.execPath(),
    ["run", "-A", CLIENT, ...wsArgs(o)],
    (o.warmup + o.seconds + 30) * 1000,
  );
  if (r.code !== 0) throw new Error(`the WebSocket client exited ${r.code}: ${r.stderr.trim()}`);
  return parseWsResult(r.stdout);
}
