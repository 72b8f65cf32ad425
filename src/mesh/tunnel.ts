/**
 * The stack mesh's tunnel between nodes: a node forwards a connection for a replica on another
 * node to that node's tunnel port, over TLS (the client checks the server's node certificate
 * against the cluster CA, the server checks the client's proof, see tunnel_auth.ts). The client
 * sends one line, `FMESH1 <json>`, naming the service, the replica's container address and the
 * port; the server connects to that container only if it is a ready replica of that service on
 * this node and the port is one of the service's, answers `OK` (or `NO reason`) and relays: a
 * TCP stream, or for `"protocol": "udp"` datagrams framed by their length (datagrams.ts).
 * @module
 */
import { type Logger, silentLogger } from "../util/log.ts";
import { closeQuietly, splice, writeAll } from "../util/conn.ts";
import { asProof, type Proof, TunnelAuth } from "./tunnel_auth.ts";
import { relayFrames } from "./datagrams.ts";

/** Longest first line either side accepts; a node certificate is about 1 KB. */
const MAX_LINE = 16 * 1024;
/** Time a peer has to send its first line. */
const LINE_TIMEOUT_MS = 5_000;
/** Tunnel connections served at once; more are closed at once, so a flood cannot exhaust us. */
export const MAX_TUNNELS = 4096;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a client asks the tunnel for. */
export interface TunnelRequest {
  service: string;
  /** The replica's container address on its stack's network. */
  container: string;
  port: number;
  /** "udp": datagrams framed by their length (datagrams.ts); else a TCP stream. */
  protocol?: "udp";
}

/** A connection that came out of the first-line exchange, and what was read past that line. */
export interface Opened<C extends Deno.Conn = Deno.Conn> {
  conn: C;
  /** Bytes that came after the line, to be passed on first. */
  rest: Uint8Array;
}

/** Sends one line. */
export async function writeLine(conn: Deno.Conn, line: string): Promise<void> {
  await writeAll(conn, encoder.encode(line + "\n"));
}

/**
 * Reads the first line (without its `\n`) within `timeoutMs`, never more than {@link MAX_LINE}
 * bytes; rejects on a longer line, an early end or the deadline.
 */
export async function readLine(
  conn: Deno.Conn,
  timeoutMs = LINE_TIMEOUT_MS,
): Promise<{ line: string; rest: Uint8Array }> {
  const buf = new Uint8Array(MAX_LINE + 1);
  let len = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      closeQuietly(conn);
      reject(new Error(`no first line within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    for (;;) {
      const n = await Promise.race([conn.read(buf.subarray(len)), late]);
      if (n === null) throw new Error("the connection ended before its first line");
      const nl = buf.subarray(len, len + n).indexOf(10);
      len += n;
      if (nl >= 0) {
        const end = len - n + nl;
        return { line: decoder.decode(buf.subarray(0, end)), rest: buf.slice(end + 1, len) };
      }
      if (len > MAX_LINE) throw new Error(`the first line is longer than ${MAX_LINE} bytes`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Reads a request line from an untrusted peer; the request and proof, or why not. */
export function parseRequest(line: string): { req: TunnelRequest; proof: Proof } | string {
  if (!line.startsWith("FMESH1 ")) return "not a mesh tunnel request";
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line.slice(7));
  } catch {
    return "the request is not JSON";
  }
  const proof = asProof(v?.proof);
  const { service, container, port, protocol } = v ?? {};
  if (
    !proof || typeof service !== "string" || typeof container !== "string" ||
    typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535
  ) return "the request lacks a proof, service, container or port";
  if (protocol !== undefined && protocol !== "udp") return "the protocol is not udp";
  return { req: { service, container, port, ...(protocol ? { protocol } : {}) }, proof };
}

/** Where a tunnel request may go: the container's address, or why not. */
export type TunnelTarget = (req: TunnelRequest) => string | undefined;

/** What the tunnel server needs. */
export interface TunnelServerOptions {
  auth: TunnelAuth;
  /** This node's address: proofs must name it. */
  self: string;
  hostname: string;
  port: number;
  certPem: string;
  keyPem: string;
  /** Why a request is refused (not a ready local replica, not its port), else undefined. */
  refuse: (req: TunnelRequest) => string | undefined;
  /** Relays the two connections until both ends finish. */
  relay: (a: Deno.Conn, b: Deno.Conn, rest: Uint8Array) => Promise<void>;
  connectTimeoutMs?: number;
  log?: Logger;
}

/** Listens on the tunnel port and serves each authenticated request. */
export class TunnelServer {
  readonly #o: TunnelServerOptions;
  readonly #log: Logger;
  #listener: Deno.TlsListener | undefined;
  #loop: Promise<void> = Promise.resolve();
  readonly #conns = new Set<Deno.Conn>();
  readonly #sessions = new Set<Promise<void>>();
  #refusals = 0;

  constructor(o: TunnelServerOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  /** Starts listening; returns the port. Throws when the port cannot be had. */
  start(): number {
    const o = this.#o;
    this.#listener = Deno.listenTls({
      hostname: o.hostname,
      port: o.port,
      cert: o.certPem,
      key: o.keyPem,
    });
    this.#loop = this.#accept(this.#listener);
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async stop(): Promise<void> {
    if (this.#listener) closeQuietly(this.#listener);
    for (const c of this.#conns) closeQuietly(c);
    await Promise.all([this.#loop, ...this.#sessions]);
  }

  async #accept(listener: Deno.TlsListener): Promise<void> {
    for (;;) {
      let conn: Deno.TlsConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // closed by stop()
      }
      if (this.#sessions.size >= MAX_TUNNELS) {
        closeQuietly(conn);
        this.#refused((conn.remoteAddr as Deno.NetAddr).hostname, "too many tunnel connections");
        continue;
      }
      const s = this.#serve(conn);
      this.#sessions.add(s);
      s.finally(() => this.#sessions.delete(s));
    }
  }

  async #serve(conn: Deno.TlsConn): Promise<void> {
    this.#conns.add(conn);
    const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
    let backend: Deno.TcpConn | undefined;
    try {
      const { line, rest } = await readLine(conn);
      const parsed = parseRequest(line);
      const why = typeof parsed === "string"
        ? parsed
        : this.#o.auth.check(parsed.proof, this.#o.self) ?? this.#o.refuse(parsed.req);
      if (why !== undefined || typeof parsed === "string") {
        this.#refused(peer, why ?? "refused");
        await writeLine(conn, `NO ${why}`).catch(() => {});
        return;
      }
      const { container, port } = parsed.req;
      if (parsed.req.protocol === "udp") {
        await writeLine(conn, "OK");
        await relayFrames(conn, rest, container, port);
        return;
      }
      try {
        backend = await Deno.connect({
          hostname: container,
          port,
          signal: AbortSignal.timeout(this.#o.connectTimeoutMs ?? 3000),
        });
      } catch (err) {
        await writeLine(conn, `NO the container does not accept: ${(err as Error).message}`)
          .catch(() => {});
        return;
      }
      this.#conns.add(backend);
      backend.setNoDelay(true);
      await writeLine(conn, "OK");
      await this.#o.relay(conn, backend, rest);
    } catch (err) {
      this.#log.debug("tunnel connection ended with an error", { peer, err });
    } finally {
      this.#conns.delete(conn);
      closeQuietly(conn);
      if (backend) {
        this.#conns.delete(backend);
        closeQuietly(backend);
      }
    }
  }

  /** Logs refusals, the first few at warn, then one in a hundred, so a scan cannot flood the log. */
  #refused(peer: string, why: string): void {
    const n = ++this.#refusals;
    if (n <= 5) this.#log.warn("refused a tunnel connection", { peer, why });
    else if (n % 100 === 0) this.#log.warn("refused tunnel connections", { peer, why, count: n });
  }
}

/** What dialling a tunnel needs. */
export interface TunnelDial {
  auth: TunnelAuth;
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * Opens a tunnel to the node at `host:port` for `req`, within `timeoutMs`; rejects with the
 * server's reason when it refuses.
 */
export async function dialTunnel(
  d: TunnelDial,
  host: string,
  port: number,
  req: TunnelRequest,
  timeoutMs: number,
  stop?: AbortSignal,
): Promise<Opened<Deno.TlsConn>> {
  let conn: Deno.TlsConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onStop = () => {};
  const gaveUp = new Promise<never>((_, reject) => {
    const fail = (why: unknown) => {
      if (conn) closeQuietly(conn);
      reject(why);
    };
    timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    onStop = () => fail(stop?.reason);
    if (stop?.aborted) onStop();
    stop?.addEventListener("abort", onStop, { once: true });
  });
  const open = (async () => {
    conn = await Deno.connectTls({
      hostname: host,
      port,
      caCerts: [d.caPem],
      cert: d.certPem,
      key: d.keyPem,
    });
    const line = "FMESH1 " + JSON.stringify({ ...req, proof: d.auth.proof(host) });
    await writeLine(conn, line);
    const answer = await readLine(conn, timeoutMs);
    if (answer.line !== "OK") {
      throw new Error(`node ${host} refused: ${answer.line.replace(/^NO /, "")}`);
    }
    return { conn, rest: answer.rest };
  })();
  try {
    return await Promise.race([open, gaveUp]);
  } catch (err) {
    open.then((o) => closeQuietly(o.conn), () => {});
    if (conn) closeQuietly(conn);
    throw err;
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener("abort", onStop);
  }
}

/** Buffers of a relay: small for requests, up to 256 KiB for bulk transfers. */
const MESH_BUFFERS = { size: 16 * 1024, max: 256 * 1024 };

/** Passes `rest` (read past a first line) on to `to`, then relays both ways. */
export async function relayWithRest(
  from: Deno.Conn,
  to: Deno.Conn,
  rest: Uint8Array,
): Promise<void> {
  if (rest.length > 0) await writeAll(to, rest);
  await splice(from, to, MESH_BUFFERS);
}
