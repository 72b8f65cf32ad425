/**
 * The cluster's DNS server: answers `NAME.DOMAIN` and `NODENAME.node.DOMAIN` from the cluster view,
 * over UDP and TCP on one port.
 *
 * Bound to 0.0.0.0 or `::`, it opens one UDP socket per local address (IPv4 and IPv6), so every
 * reply leaves from the address that was asked, and re-reads the address list every few seconds
 * to follow addresses that come and go. TCP needs no such care (a connection answers from the
 * address it was made to): it keeps one listener for both families.
 *
 * With `forward`, names outside the zone are forwarded to upstream resolvers for clients on
 * private networks (forwarder.ts); without it they are REFUSED.
 * @module
 */
import type { Registry } from "../metrics/mod.ts";
import { Counter } from "../metrics/mod.ts";
import type { ClusterView } from "../state/view.ts";
import { ipv6Bytes } from "../util/ip.ts";
import { concatBytes } from "../util/bytes.ts";
import { closeQuietly, writeAll } from "../util/conn.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { type InterfaceLister, isWildcard, listenAddresses } from "./addresses.ts";
import { Answerer, MAX_MESSAGE } from "./answer.ts";
import {
  createUdpTransport,
  peerBytes,
  type UdpKind,
  type UdpSocket,
  type UdpTransport,
} from "./udp.ts";
import { ipv4Bytes, tcpFrame } from "./wire.ts";
import { zoneApex } from "./zone.ts";
import { Forwarder, type ForwarderOptions } from "./forwarder.ts";
import { parseUpstream, UpstreamList } from "./upstreams.ts";

/** What the DNS server needs. */
export interface DnsOptions {
  view: ClusterView;
  /** The zone, e.g. `fossora.home.arpa`. */
  domain: string;
  /** UDP and TCP port; 0 picks a free one (read it from `port` after `start`). */
  port: number;
  /**
   * Address to listen on, an IP literal; default `0.0.0.0`. `0.0.0.0` and `::` both mean every
   * local address, IPv4 and IPv6.
   */
  hostname?: string;
  /** TTL of every record, seconds; default 5. */
  ttl?: number;
  metrics?: Registry;
  log?: Logger;
  /** How long an open TCP connection may wait for the first byte of a query, ms; default 10 000. */
  tcpIdleMs?: number;
  /**
   * How long the rest of a TCP query may take once its first byte is in, ms; default 3 000. Not
   * restarted by each byte, so a client trickling a byte at a time cannot hold a connection.
   */
  tcpQueryMs?: number;
  /** How long an encoded answer is reused, ms; default 1000, 0 turns the cache off. */
  cacheMs?: number;
  /** Clock for the answer cache, ms; default `Date.now`. */
  now?: () => number;
  /** Most TCP connections served at once; more are closed at accept. Default 256. */
  maxTcpConnections?: number;
  /** This machine's addresses, for a wildcard `hostname`; default `Deno.networkInterfaces`. */
  interfaces?: InterfaceLister;
  /** How often the address list is read again, ms; default 2 000. */
  rescanMs?: number;
  /** UDP implementation; default "auto" (batched system calls where FFI allows, else Deno's). */
  udp?: UdpKind | "auto";
  /** Nodes not heard from lately, left out of answers (see {@link Zone.silent}). */
  silent?: () => ReadonlySet<string>;
  /**
   * Forward names outside the zone to upstream resolvers (see forwarder.ts), for clients on
   * private networks; without this option they are REFUSED, as by a purely authoritative server.
   */
  forward?: ForwardSettings;
  /** A stack's service names for its containers (the stack mesh); asked before forwarding. */
  stackName?: (name: string, peer: string) => string | undefined;
}

/** How names outside the zone are forwarded. */
export interface ForwardSettings
  extends Omit<ForwarderOptions, "upstreams" | "log" | "metrics" | "now"> {
  /** `IP[:PORT]` texts (`--dns-upstream`); undefined follows the node's /etc/resolv.conf. */
  upstreams?: string[];
  /** How often the upstream list is checked again (resolv.conf, our own addresses), ms; 5 000. */
  recheckMs?: number;
}

/** Name of the query counter. */
export const QUERIES_METRIC = "fossora_dns_queries_total";

/** Attempts at finding a port free for UDP on every address and for TCP, when 0 was asked. */
const PORT_ATTEMPTS = 20;

/** Serves the zone over UDP and TCP. */
export class DnsServer {
  readonly #o: DnsOptions;
  readonly #hostname: string;
  readonly #log: Logger;
  readonly #answerer: Answerer;
  readonly #upstreams?: UpstreamList;
  #transport?: UdpTransport;
  /** UDP sockets by the hostname they are bound to. */
  readonly #udp = new Map<string, UdpSocket>();
  /** Why an address could not be bound last time, so a lasting failure is logged once. */
  readonly #failed = new Map<string, string>();
  readonly #tcp: Deno.Listener[] = [];
  readonly #conns = new Map<Deno.Conn, ReturnType<typeof setTimeout> | undefined>();
  readonly #loops: Promise<void>[] = [];
  #rescan?: ReturnType<typeof setInterval>;
  #port = 0;
  #started = false;
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
    const hostname = o.hostname ?? "0.0.0.0";
    if (!ipv4Bytes(hostname) && !ipv6Bytes(hostname.split("%")[0])) {
      throw new Error(`dns: listen address "${hostname}" must be an IP address, e.g. 0.0.0.0`);
    }
    for (const key of ["tcpIdleMs", "tcpQueryMs", "rescanMs", "maxTcpConnections"] as const) {
      const v = o[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new Error(`dns: ${key} ${v} must be a whole number above 0`);
      }
    }
    if (o.cacheMs !== undefined && (!Number.isInteger(o.cacheMs) || o.cacheMs < 0)) {
      throw new Error(`dns: cacheMs ${o.cacheMs} must be a whole number of ms, 0 for no cache`);
    }
    this.#o = o;
    this.#hostname = hostname;
    this.#log = o.log ?? silentLogger;
    const queries = o.metrics
      ? o.metrics.counter(QUERIES_METRIC, "DNS queries answered, by result.")
      : new Counter(QUERIES_METRIC, "");
    let forward: Forwarder | undefined;
    if (o.forward) {
      const { upstreams, recheckMs, ...tuning } = o.forward;
      const given = upstreams?.map((u) => {
        try {
          return parseUpstream(u);
        } catch (e) {
          throw new Error(`dns: upstream: ${(e as Error).message}`);
        }
      });
      const list = new UpstreamList({
        given,
        loops: (host, port) => this.#wouldLoop(host, port),
        log: this.#log,
        recheckMs,
      });
      this.#upstreams = list;
      forward = new Forwarder({
        ...tuning,
        upstreams: () => list.current,
        log: this.#log,
        metrics: o.metrics,
        now: o.now,
      });
    }
    this.#answerer = new Answerer({
      forward,
      stackName: o.stackName,
      view: o.view,
      zone: { apex, ttl, silent: o.silent },
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

  /** The hostnames a UDP socket is bound to now, sorted (for logs and tests). */
  get udpAddresses(): string[] {
    return [...this.#udp.keys()].sort();
  }

  /** Which UDP implementation serves, known after `start`. */
  get udpKind(): UdpKind | undefined {
    return this.#transport?.kind;
  }

  /** Binds UDP then TCP on the same port and starts serving; rejects when a port is taken. */
  async start(): Promise<void> {
    if (this.#started) throw new Error("dns: server already started");
    this.#started = true;
    this.#transport = createUdpTransport(this.#answerer, this.#log, this.#o.udp);
    try {
      if (isWildcard(this.#hostname)) this.#bindEverywhere();
      else this.#bindOne(this.#hostname);
    } catch (e) {
      await this.#transport.stop();
      throw e;
    }
    for (const listener of this.#tcp) this.#loops.push(this.#acceptTcp(listener));
    this.#upstreams?.start();
    if (isWildcard(this.#hostname)) {
      this.#rescan = setInterval(() => this.#follow(), this.#o.rescanMs ?? 2_000);
    }
    this.#log.info("dns listening", {
      hostname: this.#hostname,
      port: this.#port,
      domain: this.#o.domain,
      udp: this.#transport.kind,
      addresses: this.udpAddresses,
    });
  }

  /** One address: one UDP socket and one TCP listener on it. */
  #bindOne(hostname: string): void {
    this.#withFreePort((port) => {
      const udp = this.#transport!.open(hostname, port);
      this.#udp.set(hostname, udp);
      this.#tcp.push(Deno.listen({ transport: "tcp", hostname, port: udp.port }));
      return udp.port;
    });
  }

  /** Every local address: a UDP socket each, and TCP on the wildcard. */
  #bindEverywhere(): void {
    let addresses: string[];
    try {
      addresses = listenAddresses(this.#list());
    } catch (e) {
      // Still serve, as before per-address sockets: wrong-source replies beat no replies.
      this.#log.warn(
        "dns: cannot list this machine's addresses; one UDP socket on the wildcard, so answers " +
          "to a second address may leave from another one",
        { error: e },
      );
      addresses = [this.#hostname];
    }
    this.#withFreePort((wanted) => {
      let port = wanted;
      for (const hostname of addresses) {
        try {
          const udp = this.#transport!.open(hostname, port);
          this.#udp.set(hostname, udp);
          port = udp.port;
        } catch (e) {
          // A port someone else holds is the caller's to fix (or to retry with another free one);
          // an address that cannot be bound yet (IPv6 still checking for duplicates) is retried.
          if (e instanceof Deno.errors.AddrInUse) throw e;
          this.#noteFailure(hostname, e);
        }
      }
      if (this.#udp.size === 0 && addresses.length > 0) {
        throw new Error(`dns: cannot listen on any local address (${addresses.join(", ")})`);
      }
      if (this.#udp.size === 0) this.#log.warn("dns: no local address to listen on yet");
      return this.#listenTcpEverywhere(port);
    });
  }

  /**
   * Runs `bind(port)`, which returns the port it bound, and keeps that port. With port 0, tries
   * again on AddrInUse (the free port UDP got may be taken for TCP, or on another address),
   * closing what the failed attempt opened.
   */
  #withFreePort(bind: (port: number) => number): void {
    for (let attempt = 1;; attempt++) {
      try {
        this.#port = bind(this.#o.port);
        return;
      } catch (e) {
        this.#closeSockets();
        if (!(e instanceof Deno.errors.AddrInUse) || this.#o.port !== 0) throw e;
        if (attempt >= PORT_ATTEMPTS) throw e;
      }
    }
  }

  /**
   * TCP on `::`, which Linux makes dual-stack, so one listener takes both families; `0.0.0.0` too
   * when it is not (bindv6only set) or when IPv6 is off. Answers over TCP leave from the address
   * the connection was made to, so one wildcard listener is right.
   */
  #listenTcpEverywhere(port: number): number {
    let v6: Deno.Listener | undefined;
    try {
      v6 = Deno.listen({ transport: "tcp", hostname: "::", port });
      this.#tcp.push(v6);
      port = (v6.addr as Deno.NetAddr).port;
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) throw e;
      this.#log.debug("dns: no IPv6 TCP listener", { error: e });
    }
    try {
      this.#tcp.push(Deno.listen({ transport: "tcp", hostname: "0.0.0.0", port }));
    } catch (e) {
      // In use by our own dual-stack listener is the usual case; without one it is a real clash.
      if (!(e instanceof Deno.errors.AddrInUse) || !v6) throw e;
    }
    return port;
  }

  /**
   * Why forwarding to `host:port` would loop: it is this server (our port, on an address we
   * listen on, or any of ours when bound to a wildcard), or a fossora node's DNS server (a node
   * handed out by DHCP finds the others in its own resolv.conf; they forward too).
   */
  #wouldLoop(host: string, port: number): string | undefined {
    const same = (a: string, b: string) => a === b || sameV6(a, b);
    const self = port === this.#port && (
      isWildcard(host) || same(host, this.#hostname) ||
      (isWildcard(this.#hostname) && [...this.#udp.keys()].some((a) => same(a.split("%")[0], host)))
    );
    if (self) return "this node's own DNS server: forwarding would loop";
    const node = this.#o.view.nodes().find((n) =>
      n.dnsPort === port &&
      [n.address, ...(Array.isArray(n.addresses6) ? n.addresses6 : [])].some((a) => same(a, host))
    );
    if (node) {
      return `the DNS server of fossora node ${node.name}, which forwards too: nodes would loop`;
    }
    return undefined;
  }

  #list(): ReturnType<InterfaceLister> {
    return (this.#o.interfaces ?? Deno.networkInterfaces)();
  }

  /** Opens sockets for new addresses and closes those of addresses that went away. */
  #follow(): void {
    if (this.#stopping) return;
    let wanted: Set<string>;
    try {
      wanted = new Set(listenAddresses(this.#list()));
    } catch (e) {
      this.#log.warn("dns: cannot read this machine's addresses; keeping the sockets", {
        error: e,
      });
      return;
    }
    for (const [hostname, sock] of this.#udp) {
      if (wanted.has(hostname)) continue;
      sock.close();
      this.#udp.delete(hostname);
      this.#log.info("dns: address gone, stopped listening", { address: hostname });
    }
    for (const hostname of this.#failed.keys()) {
      if (!wanted.has(hostname)) this.#failed.delete(hostname);
    }
    for (const hostname of wanted) {
      if (this.#udp.has(hostname)) continue;
      try {
        this.#udp.set(hostname, this.#transport!.open(hostname, this.#port));
        this.#failed.delete(hostname);
        this.#log.info("dns: new address, listening", { address: hostname, port: this.#port });
      } catch (e) {
        this.#noteFailure(hostname, e);
      }
    }
  }

  /** Logs why an address cannot be bound, once per reason; it is tried again at each rescan. */
  #noteFailure(hostname: string, e: unknown): void {
    const reason = String((e as Error)?.message ?? e);
    if (this.#failed.get(hostname) === reason) return;
    this.#failed.set(hostname, reason);
    // An IPv6 address is unbindable for a moment after it appears; that is not worth a warning.
    const level = e instanceof Deno.errors.AddrNotAvailable ? "debug" : "warn";
    this.#log[level]("dns: cannot listen on an address yet; will retry", {
      address: hostname,
      port: this.#port,
      reason,
    });
  }

  #closeSockets(): void {
    for (const sock of this.#udp.values()) sock.close();
    this.#udp.clear();
    for (const listener of this.#tcp.splice(0)) closeQuietly(listener);
  }

  /** Closes every socket and TCP connection, and waits for the loops to end. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#rescan);
    this.#upstreams?.stop();
    this.#closeSockets();
    for (const [conn, timer] of this.#conns) {
      clearTimeout(timer);
      closeQuietly(conn);
    }
    await this.#transport?.stop();
    await Promise.all(this.#loops);
    this.#loops.length = 0;
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

  /**
   * Reads length-prefixed queries until the client closes, stalls or sends nonsense. Two clocks:
   * `tcpIdleMs` from the last answer (or the connection) to a query's first byte, then
   * `tcpQueryMs` for the rest of that query; bytes arriving do not restart either.
   */
  async #serveTcp(conn: Deno.Conn): Promise<void> {
    this.#conns.set(conn, undefined);
    const idleMs = this.#o.tcpIdleMs ?? 10_000;
    const queryMs = this.#o.tcpQueryMs ?? 3_000;
    const chunk = new Uint8Array(MAX_MESSAGE + 2);
    let pending: Uint8Array = new Uint8Array(0);
    const peer = peerBytes(conn.remoteAddr);
    try {
      this.#arm(conn, idleMs);
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) return;
        const started = pending.length === 0;
        pending = concatBytes([pending, chunk.subarray(0, n)]);
        let at = 0;
        while (pending.length - at >= 2) {
          const len = (pending[at] << 8) | pending[at + 1];
          if (pending.length - at - 2 < len) break;
          const query = pending.subarray(at + 2, at + 2 + len);
          const answered = this.#answerer.answer(query, false, peer);
          // A forwarded name may take the upstreams' deadline; the query's clock must not cut it.
          if (answered instanceof Promise) clearTimeout(this.#conns.get(conn));
          const reply = await answered;
          if (!reply) return; // not a query: nothing sane to say on this stream
          await writeAll(conn, tcpFrame(reply));
          at += 2 + len;
        }
        pending = pending.slice(at);
        // A new clock only when a query was answered or a new one began, never for more bytes
        // of the query already being waited for.
        if (at > 0) this.#arm(conn, pending.length > 0 ? queryMs : idleMs);
        else if (started) this.#arm(conn, queryMs);
      }
    } catch (e) {
      if (!this.#stopping) this.#log.debug("dns tcp connection ended", { error: e });
    } finally {
      clearTimeout(this.#conns.get(conn));
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  /** (Re)starts the timer that closes the connection unless what it waits for arrives. */
  #arm(conn: Deno.Conn, ms: number): void {
    clearTimeout(this.#conns.get(conn));
    this.#conns.set(conn, setTimeout(() => closeQuietly(conn), ms));
  }
}

/** True for two spellings of one IPv6 address. */
function sameV6(a: string, b: string): boolean {
  const x = ipv6Bytes(a);
  const y = ipv6Bytes(b);
  return !!x && !!y && x.every((v, i) => v === y[i]);
}
