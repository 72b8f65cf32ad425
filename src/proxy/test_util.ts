/**
 * Helpers for the proxy tests: backends on loopback, a view that points at them, an HTTP client
 * that can set any Host header, and a minimal WebSocket client (Deno's cannot set Host).
 * @module
 */
import http from "node:http";
import { Registry } from "../metrics/mod.ts";
import { MemoryView } from "../state/view.ts";
import { type ProxyOptions, REQUESTS_METRIC, ServiceProxy } from "./server.ts";
import type { ReplicaStatus, ServiceRecord } from "../state/types.ts";

/** The container port the test services mark as HTTP. */
export const HTTP_PORT = 8080;

/** A service record; `http` false gives it only a non-HTTP port. */
export function service(name: string, replicas = 1, http = true): ServiceRecord {
  return {
    spec: {
      name,
      image: "busybox",
      replicas,
      ports: [{ container: HTTP_PORT, http }],
      env: {},
      volumes: [],
      placement: {},
    },
    generation: 1,
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
  };
}

/** A ready replica whose HTTP port is published on 127.0.0.1:`hostPort`. */
export function replica(
  svc: string,
  index: number,
  hostPort: number,
  extra: Partial<ReplicaStatus> = {},
): ReplicaStatus {
  return {
    service: svc,
    replica: index,
    node: `node-${index}`,
    generation: 1,
    state: "running",
    ready: true,
    address: "127.0.0.1",
    ports: { [String(HTTP_PORT)]: hostPort },
    restarts: 0,
    since: "2026-01-01T00:00:00Z",
    ...extra,
  };
}

/** A view with one service and the given replicas. */
export function viewWith(svc: ServiceRecord, replicas: ReplicaStatus[]): MemoryView {
  const view = new MemoryView();
  view.serviceMap.set(svc.spec.name, svc);
  for (const r of replicas) view.putReplica(r);
  return view;
}

/** A backend that answers with its name and the request it saw, and echoes WebSockets. */
export interface Backend {
  port: number;
  hits: number;
  close(): Promise<void>;
}

/** Starts a `Deno.serve` backend on a free loopback port. */
export function startBackend(name: string): Backend {
  const backend = {
    port: 0,
    hits: 0,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    backend.hits++;
    if (req.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`${name} echo: ${e.data}`);
      return response;
    }
    const seen = {
      backend: name,
      method: req.method,
      host: req.headers.get("host"),
      body: await req.text(),
      xff: req.headers.get("x-forwarded-for"),
      xfh: req.headers.get("x-forwarded-host"),
      xfp: req.headers.get("x-forwarded-proto"),
    };
    return Response.json(seen);
  });
  backend.port = server.addr.port;
  return backend;
}

/** A port that accepts connections and resets them at once, counting them. */
export interface Resetter {
  port: number;
  accepted: number;
  close(): Promise<void>;
}

/** Starts a listener that closes every connection before answering. */
export function startResetter(): Resetter {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const r = { port: (listener.addr as Deno.NetAddr).port, accepted: 0, close: async () => {} };
  const loop = (async () => {
    for await (const conn of listener) {
      r.accepted++;
      conn.close();
    }
  })();
  r.close = async () => {
    listener.close();
    await loop.catch(() => {});
  };
  return r;
}

/** A loopback port with nothing listening: a free port, not taken again. */
export { freePort as closedPort } from "../../test/helpers/ports.ts";

/** What the test client got back. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends one request to the proxy with any Host header, on a fresh connection. */
export async function request(
  port: number,
  host: string,
  options: { method?: string; path?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const raw = await requestBytes(port, host, options);
  return { ...raw, body: new TextDecoder().decode(raw.body) };
}

/**
 * Opens a WebSocket through the proxy with a chosen Host, sends one text message and returns the
 * first text message back. Frames are built by hand: the client masks, the server does not.
 */
export async function websocketEcho(
  port: number,
  host: string,
  text: string,
  connect: (port: number) => Promise<Deno.Conn> = (port) =>
    Deno.connect({ hostname: "127.0.0.1", port }),
): Promise<string> {
  const conn = await connect(port);
  try {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(new TextEncoder().encode(
      `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    const read = reader(conn);
    const head = await read.until(new TextEncoder().encode("\r\n\r\n"));
    const status = new TextDecoder().decode(head).split("\r\n")[0];
    if (!status.includes(" 101 ")) throw new Error(`no upgrade: ${status}`);
    await conn.write(maskedTextFrame(text));
    const [b0, b1] = await read.exactly(2);
    if ((b0 & 0x0f) !== 1) throw new Error(`expected a text frame, got opcode ${b0 & 0x0f}`);
    let len = b1 & 0x7f;
    if (len === 126) {
      const ext = await read.exactly(2);
      len = (ext[0] << 8) | ext[1];
    }
    return new TextDecoder().decode(await read.exactly(len));
  } finally {
    conn.close();
  }
}

function maskedTextFrame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  if (payload.length > 125) throw new Error("test frames stay under 126 bytes");
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length;
  frame.set(mask, 2);
  payload.forEach((b, i) => (frame[6 + i] = b ^ mask[i % 4]));
  return frame;
}

function reader(conn: Deno.Conn) {
  let buf = new Uint8Array(0);
  const fill = async () => {
    const chunk = new Uint8Array(4096);
    const n = await conn.read(chunk);
    if (n === null) throw new Error("connection closed early");
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
  };
  const take = (n: number) => {
    const out = buf.slice(0, n);
    buf = buf.slice(n);
    return out;
  };
  return {
    async exactly(n: number): Promise<Uint8Array> {
      while (buf.length < n) await fill();
      return take(n);
    },
    async until(marker: Uint8Array): Promise<Uint8Array> {
      for (;;) {
        for (let i = 0; i + marker.length <= buf.length; i++) {
          if (marker.every((b, j) => buf[i + j] === b)) return take(i + marker.length);
        }
        await fill();
      }
    },
  };
}

/** Starts a `Deno.serve` backend on a free loopback port with any handler. */
export function startServer(
  handler: (req: Request) => Response | Promise<Response>,
): { port: number; close(): Promise<void> } {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, handler);
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** A backend that answers every request on a connection with the same raw bytes, then closes. */
export function startRawBackend(response: string): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    try {
      const buf = new Uint8Array(65536);
      let seen = "";
      while (!seen.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        seen += new TextDecoder().decode(buf.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(response));
    } catch {
      // the proxy went away; nothing to answer
    } finally {
      conns.delete(conn);
      conn.close();
    }
  };
  const loop = (async () => {
    for await (const conn of listener) serve(conn);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      for (const c of conns) c.close();
      await loop.catch(() => {});
    },
  };
}

/** What the byte-level test client got back: every header value, the body as bytes. */
export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Uint8Array;
}

/** Sends one request to the proxy and keeps the body as bytes, undecoded. */
export function requestBytes(
  port: number,
  host: string,
  options: { method?: string; path?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      hostname: "127.0.0.1",
      port,
      path: options.path ?? "/",
      method: options.method ?? "GET",
      headers: { host, ...options.headers },
      agent: false,
    }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("end", () => {
        const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
        let at = 0;
        for (const c of chunks) body.set(c, (at += c.length) - c.length);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** Polls `check` until it is true or the deadline passes; then fails saying `what`. */
export async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a proxy implementation offers. */
export interface Proxy {
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The proxy implementations every behaviour test runs against. */
export const IMPLEMENTATIONS: [string, new (o: ProxyOptions) => Proxy][] = [
  ["own HTTP/1.1", ServiceProxy],
];

/** Runs `fn` with a started proxy of class `Impl` on loopback, and stops it afterwards. */
export async function withProxyOf(
  Impl: new (o: ProxyOptions) => Proxy,
  domain: string,
  view: MemoryView,
  fn: (proxy: Proxy, metrics: Registry) => Promise<void>,
  extra: Partial<ProxyOptions> = {},
): Promise<void> {
  const metrics = new Registry();
  const proxy = new Impl({ view, domain, port: 0, hostname: "127.0.0.1", metrics, ...extra });
  await proxy.start();
  try {
    await fn(proxy, metrics);
  } finally {
    await proxy.stop();
  }
}

/** How many requests the proxy counted for `service` with status `code`. */
export function requests(metrics: Registry, service: string, code: number): number {
  return metrics.counter(REQUESTS_METRIC, "").get({ service, code: String(code) });
}
