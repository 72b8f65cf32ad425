/**
 * The WebSocket load client, run by the bench as its own process (so its CPU is never counted as
 * the proxy's, and it does not share the bench's event loop with the samplers): `connections`
 * WebSockets to 127.0.0.1:port with `Host: host`, each sending a binary message and the next one
 * as soon as the echo is back, for `seconds` after `warmup` seconds that are not counted.
 * Prints one JSON line ({@link WsResult}) on stdout.
 *
 * `deno run -A bench/ws_load.ts --port=P --host=H [--connections=16] [--seconds=5]
 * [--warmup=1] [--size=64] [--reconnect-every=0]`
 * @module
 */

/** How the client loads the proxy. */
export interface WsLoadOptions {
  port: number;
  host: string;
  connections: number;
  seconds: number;
  warmup: number;
  /** Message size, bytes. */
  size: number;
  /** Close and reopen a connection after this many echoes (0: never), to churn upgrades. */
  reconnectEvery: number;
}

/** What one client run measured. */
export interface WsResult {
  /** Echoes received within the measured window. */
  messages: number;
  /** Length of the measured window, s. */
  seconds: number;
  connections: number;
  /** WebSockets opened in all (connections, plus reopened ones). */
  opened: number;
  /** Connections that failed to open or closed before the end, and echoes that differed. */
  errors: number;
  /** The first few errors, in words. */
  firstErrors: string[];
}

/** Reads `--name=value` flags; unknown or malformed ones are an error. */
export function parseWsArgs(args: string[]): WsLoadOptions {
  const o: WsLoadOptions = {
    port: 0,
    host: "",
    connections: 16,
    seconds: 5,
    warmup: 1,
    size: 64,
    reconnectEvery: 0,
  };
  const numeric: Record<string, keyof WsLoadOptions> = {
    "--port": "port",
    "--connections": "connections",
    "--seconds": "seconds",
    "--warmup": "warmup",
    "--size": "size",
    "--reconnect-every": "reconnectEvery",
  };
  for (const a of args) {
    const [k, v] = [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)];
    if (a.indexOf("=") < 0) throw new Error(`expected --name=value, got "${a}"`);
    if (k === "--host") o.host = v;
    else if (numeric[k]) {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k} needs a number >= 0, got "${v}"`);
      (o[numeric[k]] as number) = n;
    } else throw new Error(`unknown flag ${k}`);
  }
  if (!o.port || !o.host) throw new Error("--port and --host are required");
  if (o.connections < 1 || o.seconds <= 0 || o.size < 1) {
    throw new Error("--connections, --seconds and --size must be above 0");
  }
  return o;
}

/** The command line {@link parseWsArgs} reads back: what the bench runs. */
export function wsArgs(o: WsLoadOptions): string[] {
  return [
    `--port=${o.port}`,
    `--host=${o.host}`,
    `--connections=${o.connections}`,
    `--seconds=${o.seconds}`,
    `--warmup=${o.warmup}`,
    `--size=${o.size}`,
    `--reconnect-every=${o.reconnectEvery}`,
  ];
}

/** Reads the client's JSON line, checking its shape. */
export function parseWsResult(text: string): WsResult {
  const line = text.trim().split("\n").at(-1) ?? "";
  let r: WsResult;
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`the WebSocket client printed no result: "${text.slice(-200)}"`);
  }
  for (const k of ["messages", "seconds", "connections", "opened", "errors"] as const) {
    if (typeof r[k] !== "number") throw new Error(`the WebSocket client's result has no ${k}`);
  }
  return r;
}

/** Runs the load and returns what it measured. */
export async function wsLoad(o: WsLoadOptions): Promise<WsResult> {
  const client = Deno.createHttpClient({ allowHost: true });
  const payload = crypto.getRandomValues(new Uint8Array(o.size));
  const start = performance.now();
  const measureFrom = start + o.warmup * 1000;
  const end = measureFrom + o.seconds * 1000;
  const result: WsResult = {
    messages: 0,
    seconds: o.seconds,
    connections: o.connections,
    opened: 0,
    errors: 0,
    firstErrors: [],
  };
  const fail = (why: string) => {
    result.errors++;
    if (result.firstErrors.length < 5) result.firstErrors.push(why);
  };
  const open = new Set<WebSocket>();

  /** One connection's life: resolves when it closed (at the end, to reconnect, or on error). */
  const session = () =>
    new Promise<"again" | "done">((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${o.port}/`, { headers: { host: o.host }, client });
      ws.binaryType = "arraybuffer";
      open.add(ws);
      result.opened++;
      let echoes = 0;
      let closing: "again" | "done" | undefined;
      ws.onopen = () => ws.send(payload);
      ws.onmessage = (e) => {
        const now = performance.now();
        if ((e.data as ArrayBuffer).byteLength !== o.size) fail("an echo of the wrong size");
        if (now >= measureFrom && now < end) result.messages++;
        echoes++;
        if (now >= end) closing = "done";
        else if (o.reconnectEvery && echoes >= o.reconnectEvery) closing = "again";
        if (closing) ws.close(1000);
        else ws.send(payload);
      };
      ws.onerror = (e) => {
        if (!closing) fail((e as ErrorEvent).message || "error event");
      };
      ws.onclose = (e) => {
        open.delete(ws);
        if (!closing) fail(`closed early (${e.code} ${e.reason})`);
        resolve(closing === "again" ? "again" : "done");
      };
    });

  const loop = async () => {
    while ((await session()) === "again" && performance.now() < end);
  };
  // A connection that hangs (no echo, no close) must not hold the client past its window.
  const deadline = new Promise<void>((r) => setTimeout(r, end - start + 5000));
  await Promise.race([Promise.all(Array.from({ length: o.connections }, loop)), deadline]);
  for (const ws of open) {
    fail("no echo or close by the end");
    ws.close();
  }
  client.close();
  return result;
}

if (import.meta.main) {
  try {
    const result = await wsLoad(parseWsArgs(Deno.args));
    console.log(JSON.stringify(result));
    Deno.exit(0);
  } catch (err) {
    console.error(`ws_load: ${(err as Error).message}`);
    Deno.exit(2);
  }
}
