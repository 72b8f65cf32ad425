/**
 * The cluster's DNS server: answers `NAME.DOMAIN` and `NODENAME.node.DOMAIN` from the cluster view,
 * over UDP and TCP on one port. It never forwards; names outside the zone are REFUSED.
 * @module
 */
import type { Registry } from "../metrics/mod.ts";
import { Counter } from "../metrics/mod.ts";
import type { ClusterView } from "../state/view.ts";
import { closeQuietly, writeAll } from "../util/conn.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { Answerer, MAX_MESSAGE } from "./answer.ts";
import { tcpFrame } from "./wire.ts";
import { zoneApex } from "./zone.ts";

/** What the DNS server needs. */
export interface DnsOptions {
  view: ClusterView;
  /** The zone, e.g. `fossora.home.arpa`. */
  domain: string;
  /** UDP and TCP port; 0 picks a free one (read it from `port` after `start`). */
  port: number;
  /** Address to listen on; default `0.0.0.0`. */
  hostname?: string;
  /** TTL of every record, seconds; default 5. */
  ttl?: number;
  metrics?: Registry;
  log?: Logger;
  /** How long a TCP connection may stay idle before it is closed, ms; default 10 000. */
  tcpIdleMs?: number;
  /** How long an encoded answer is reused, ms; default 1000, 0 turns the cache off. */
  cacheMs?: number;
  /** Clock for the answer cache, ms; default `Date.now`. */
  now?: () => number;
  /** Most TCP connections served at once; more are closed at accept. Default 256. */
  maxTcpConnections?: number;
}

/** Receives kept in flight on the UDP socket; measured best on 2 cores with dnsperf. */
const UDP_RECEIVERS = 4;

/** Name of the query counter. */
export const QUERIES_METRIC = "fossora_dns_queries_total";

/** Serves the zone over UDP and TCP. */
export class DnsServer {
  readonly #o: DnsOptions;
  readonly #log: Logger;
  readonly #answerer: Answerer;
  #udp?: Deno.DatagramConn;
  #tcp?: Deno.Listener;
  readonly #conns = new Map<Deno.Conn, ReturnType<typeof setTimeout> | undefined>();
  readonly #loops: Promise<void>[] = [];
  #port = 0;
  #stopping = false;

  constructor(o: DnsOptions) {
    const apex = zoneApex(o.domain);
    if (!apex || apex.length > 253 || apex.split(".").some((l) => !l || l.length > 63)) {
      throw new Error(`dns: domain "${o.domain}" is not a valid DNS name; pass e.g. home.arpa`);
    }
    const ttl = o.ttl ?? 5;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2147483647) {
      throw new Error(`dns: ttl ${ttl} must be a whole number of seconds, e.g. 5`);
    }
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
      throw new Error(`dns: port ${o.port} must be 0..65535`);
    }
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    const queries = o.metrics
      ? o.metrics.counter(QUERIES_METRIC, "DNS queries answered, by result.")
      : new Counter(QUERIES_METRIC, "");
    this.#answerer = new Answerer({
      view: o.view,
      zone: { apex, ttl },
      queries,
      log: this.#log,
      now: o.now ?? Date.now,
      cacheMs: o.cacheMs ?? 1000,
    });
  }

  /** The port both transports listen on, known after `start`. */
  get port(): number {
    return this.#port;
  }

  /** Binds UDP then TCP on the same port and starts serving; rejects when a port is taken. */
  start(): Promise<void> {
    if (this.#udp) return Promise.reject(new Error("dns: server already started"));
    try {
      this.#bind();
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }

  /** With port 0, retries until UDP and TCP get the same free port. */
  #bind(): void {
    const hostname = this.#o.hostname ?? "0.0.0.0";
    for (let attempt = 0;; attempt++) {
      const udp = Deno.listenDatagram({ transport: "udp", hostname, port: this.#o.port });
      const port = (udp.addr as Deno.NetAddr).port;
      try {
        this.#tcp = Deno.listen({ transport: "tcp", hostname, port });
        this.#udp = udp;
        this.#port = port;
        break;
      } catch (e) {
        udp.close();
        if (!(e instanceof Deno.errors.AddrInUse) || this.#o.port !== 0 || attempt >= 20) throw e;
      }
    }
    // Several receives in flight, so a packet is already being read while one is answered.
    for (let i = 0; i < UDP_RECEIVERS; i++) this.#loops.push(this.#serveUdp(this.#udp));
    this.#loops.push(this.#acceptTcp(this.#tcp));
    this.#log.info("dns listening", { hostname, port: this.#port, domain: this.#o.domain });
  }

  /** Closes both sockets and every TCP connection, and waits for the loops to end. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#udp?.close();
    this.#tcp?.close();
    for (const [conn, timer] of this.#conns) {
      clearTimeout(timer);
      closeQuietly(conn);
    }
    await Promise.all(this.#loops);
    this.#loops.length = 0;
  }

  async #serveUdp(udp: Deno.DatagramConn): Promise<void> {
    const buf = new Uint8Array(MAX_MESSAGE);
    while (!this.#stopping) {
      let packet: Uint8Array;
      let from: Deno.Addr;
      try {
        [packet, from] = await udp.receive(buf);
      } catch (e) {
        if (this.#stopping) return;
        this.#log.warn("dns udp receive failed", { error: e });
        continue;
      }
      const reply = this.#answerer.answer(packet, true);
      if (reply) udp.send(reply, from).catch((e) => this.#sendFailed(e));
    }
  }

  #sendFailed(e: unknown): void {
    if (!this.#stopping) this.#log.debug("dns udp send failed", { error: e });
  }

  async #acceptTcp(listener: Deno.Listener): Promise<void> {
    const max = this.#o.maxTcpConnections ?? 256;
    const served: Promise<void>[] = [];
    while (!this.#stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (this.#stopping) break;
        this.#log.warn("dns tcp accept failed", { error: e });
        continue;
      }
      if (this.#conns.size >= max) {
        closeQuietly(conn);
        continue;
      }
      const p = this.#serveTcp(conn).finally(() => served.splice(served.indexOf(p), 1));
      served.push(p);
    }
    await Promise.all(served);
  }

  /** Reads length-prefixed queries until the client closes, stalls or sends nonsense. */
  async #serveTcp(conn: Deno.Conn): Promise<void> {
    this.#conns.set(conn, undefined);
    const chunk = new Uint8Array(MAX_MESSAGE + 2);
    let pending: Uint8Array = new Uint8Array(0);
    try {
      for (;;) {
        this.#armIdle(conn);
        const n = await conn.read(chunk);
        if (n === null) return;
        pending = concat(pending, chunk.subarray(0, n));
        let at = 0;
        while (pending.length - at >= 2) {
          const len = (pending[at] << 8) | pending[at + 1];
          if (pending.length - at - 2 < len) break;
          const reply = this.#answerer.answer(pending.subarray(at + 2, at + 2 + len), false);
          if (!reply) return; // not a query: nothing sane to say on this stream
          await writeAll(conn, tcpFrame(reply));
          at += 2 + len;
        }
        pending = pending.slice(at);
      }
    } catch (e) {
      if (!this.#stopping) this.#log.debug("dns tcp connection ended", { error: e });
    } finally {
      clearTimeout(this.#conns.get(conn));
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  /** (Re)starts the idle timer that closes a silent connection. */
  #armIdle(conn: Deno.Conn): void {
    clearTimeout(this.#conns.get(conn));
    const timer = setTimeout(() => closeQuietly(conn), this.#o.tcpIdleMs ?? 10_000);
    this.#conns.set(conn, timer);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
