/**
 * Published UDP ports, the routing mesh for UDP: every node listens on each service's published
 * UDP ports and forwards each client's datagrams to a ready replica, wherever it runs. A client
 * (address and port) keeps its replica while it keeps talking, as with the kernel's conntrack,
 * and the replies come back from the port it sent to. A session ends after `idleMs` without a
 * datagram either way, or when its replica stops being ready (the next datagram picks a live
 * one); past `maxSessions` on one port the least recently used goes first, so a flood of
 * spoofed source addresses costs a bounded number of sockets.
 * @module
 */
import { Counter, type Registry } from "../metrics/mod.ts";
import type { ClusterView } from "../state/view.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { unavailableReason } from "./routes.ts";
import {
  assignPorts,
  backendsOf,
  hintFor,
  logNewConflicts,
  type PortConflict,
  type PortOwner,
  type TcpBackend,
} from "./tcp.ts";

/** Name of the datagram counter, labelled `service` and `result` (ok, no_replica). */
export const UDP_DATAGRAMS_METRIC = "fossora_udp_datagrams_total";

/** What the forwarder needs. */
export interface UdpForwarderOptions {
  view: ClusterView;
  /** Address to listen on; default `0.0.0.0`. */
  hostname?: string;
  /** UDP ports the agent itself uses (DNS, heartbeats): never listened on, even when published. */
  reservedPorts?: number[];
  metrics?: Registry;
  log?: Logger;
  /** Clock, ms. */
  now?: () => number;
  /** A session without a datagram either way for this long ends, ms; default 60000. */
  idleMs?: number;
  /** Most client sessions on one port, default 1024. */
  maxSessions?: number;
  /** Least time between two attempts to open a port that could not be opened, ms; default 5000. */
  retryMs?: number;
}

interface Session {
  client: Deno.NetAddr;
  backend: TcpBackend;
  sock: Deno.DatagramConn;
  lastAt: number;
  closed: boolean;
}

interface Listening {
  conn: Deno.DatagramConn;
  owner: PortOwner;
  sessions: Map<string, Session>;
  loops: Set<Promise<void>>;
  closed: boolean;
}

/** Listens on every published UDP port and forwards datagrams to live replicas. */
export class UdpForwarder {
  readonly #o: UdpForwarderOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #idleMs: number;
  readonly #maxSessions: number;
  readonly #retryMs: number;
  readonly #reserved: ReadonlySet<number>;
  readonly #counter: Counter;
  readonly #listeners = new Map<number, Listening>();
  readonly #failures = new Map<number, { retryAt: number; reason: string }>();
  #conflicts = new Set<string>();
  /** Round-robin position per service. */
  readonly #next = new Map<string, number>();
  /** Last availability logged per service, so a flood of dropped datagrams logs once. */
  readonly #state = new Map<string, "ok" | "no_replica">();
  readonly #sweeper: ReturnType<typeof setInterval>;
  #stopped = false;

  constructor(o: UdpForwarderOptions) {
    for (const [name, v] of Object.entries({ idleMs: o.idleMs, retryMs: o.retryMs })) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
        throw new Error(`udp forwarder: ${name} ${v} must be a positive number of milliseconds`);
      }
    }
    if (o.maxSessions !== undefined && !(Number.isInteger(o.maxSessions) && o.maxSessions > 0)) {
      throw new Error(`udp forwarder: maxSessions ${o.maxSessions} must be a positive integer`);
    }
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#idleMs = o.idleMs ?? 60_000;
    this.#maxSessions = o.maxSessions ?? 1024;
    this.#retryMs = o.retryMs ?? 5000;
    this.#reserved = new Set(o.reservedPorts ?? []);
    const help = "UDP datagrams received on published ports, by service and result.";
    this.#counter = o.metrics
      ? o.metrics.counter(UDP_DATAGRAMS_METRIC, help)
      : new Counter(UDP_DATAGRAMS_METRIC, help);
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(this.#idleMs, 5000));
  }

  /**
   * Brings listeners in line with the view, and ends the sessions whose replica is no longer
   * ready. Call after every view change; never throws.
   */
  sync(): void {
    if (this.#stopped) return;
    try {
      const { owners, conflicts } = assignPorts(this.#o.view.services(), this.#reserved, "udp");
      this.#reportConflicts(conflicts);
      for (const [port, l] of this.#listeners) {
        const owner = owners.get(port);
        if (!owner || owner.service !== l.owner.service || owner.container !== l.owner.container) {
          this.#close(port);
        }
      }
      for (const port of this.#failures.keys()) if (!owners.has(port)) this.#failures.delete(port);
      for (const [port, owner] of owners) if (!this.#listeners.has(port)) this.#open(port, owner);
      for (const l of this.#listeners.values()) this.#dropGone(l);
    } catch (err) {
      this.#log.error("cannot sync published UDP ports", { err });
    }
  }

  /** Ports listened on now, ascending. */
  listening(): number[] {
    return [...this.#listeners.keys()].sort((a, b) => a - b);
  }

  /** Client sessions open now on `port`. */
  sessions(port: number): number {
    return this.#listeners.get(port)?.sessions.size ?? 0;
  }

  /** Closes every socket and waits for the loops to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#sweeper);
    const loops = [...this.#listeners.values()].flatMap((l) => [...l.loops]);
    for (const port of [...this.#listeners.keys()]) this.#close(port);
    await Promise.all(loops);
  }

  #open(port: number, owner: PortOwner): void {
    const failure = this.#failures.get(port);
    if (failure && this.#now() < failure.retryAt) return;
    const hostname = this.#o.hostname ?? "0.0.0.0";
    let conn: Deno.DatagramConn;
    try {
      conn = Deno.listenDatagram({ transport: "udp", hostname, port });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#failures.set(port, { retryAt: this.#now() + this.#retryMs, reason });
      const fields = { port, service: owner.service, hostname, reason, hint: hintFor(err) };
      if (failure?.reason === reason) {
        this.#log.debug("published UDP port still unavailable", fields);
      } else this.#log.warn("cannot listen on published UDP port; will retry", fields);
      return;
    }
    this.#failures.delete(port);
    const l: Listening = { conn, owner, sessions: new Map(), loops: new Set(), closed: false };
    this.#listeners.set(port, l);
    this.#loop(l, this.#receive(port, l));
    this.#log.info("listening on published UDP port", { port, service: owner.service, hostname });
  }

  #close(port: number): void {
    const l = this.#listeners.get(port);
    if (!l) return;
    this.#listeners.delete(port);
    l.closed = true;
    for (const s of l.sessions.values()) this.#end(s);
    l.sessions.clear();
    try {
      l.conn.close();
    } catch { /* closed */ }
    this.#log.info("stopped listening on published UDP port", { port });
  }

  #loop(l: Listening, p: Promise<void>): void {
    l.loops.add(p);
    p.finally(() => l.loops.delete(p));
  }

  /** Datagrams from clients, each to its session's replica. */
  async #receive(port: number, l: Listening): Promise<void> {
    for (;;) {
      let data: Uint8Array;
      let from: Deno.Addr;
      try {
        [data, from] = await l.conn.receive();
      } catch (err) {
        if (l.closed) return;
        this.#close(port);
        this.#failures.set(port, { retryAt: this.#now() + this.#retryMs, reason: String(err) });
        this.#log.warn("published UDP port stopped receiving; will retry", { port, err });
        return;
      }
      if (from.transport !== "udp") continue;
      const session = this.#session(l, from);
      if (!session) continue;
      session.lastAt = this.#now();
      session.sock.send(data, {
        transport: "udp",
        hostname: session.backend.host,
        port: session.backend.port,
      }).catch((err) => this.#log.debug("datagram not forwarded", { port, err }));
    }
  }

  /** The client's session, kept fresh for LRU; a new one to a live replica; none when none. */
  #session(l: Listening, client: Deno.NetAddr): Session | undefined {
    const key = `${client.hostname}:${client.port}`;
    const known = l.sessions.get(key);
    if (known) {
      l.sessions.delete(key);
      l.sessions.set(key, known);
      this.#result(l.owner.service, "ok");
      return known;
    }
    const { service, container, protocol } = l.owner;
    const replicas = this.#o.view.replicasOf(service);
    const backends = backendsOf(replicas, container, protocol);
    if (backends.length === 0) {
      const record = this.#o.view.service(service);
      const reason = record ? unavailableReason(record, replicas) : "it was removed";
      this.#result(service, "no_replica", { reason });
      return undefined;
    }
    const start = this.#next.get(service) ?? 0;
    this.#next.set(service, (start + 1) % backends.length);
    const backend = backends[start % backends.length];
    let sock: Deno.DatagramConn;
    try {
      sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
    } catch (err) {
      this.#log.warn("cannot open a socket for a UDP client; dropping its datagram", { err });
      return undefined;
    }
    while (l.sessions.size >= this.#maxSessions) {
      const [oldest, s] = l.sessions.entries().next().value!;
      l.sessions.delete(oldest);
      this.#end(s);
    }
    const session: Session = { client, backend, sock, lastAt: this.#now(), closed: false };
    l.sessions.set(key, session);
    this.#loop(l, this.#replies(l, session));
    this.#result(service, "ok");
    return session;
  }

  /** The replica's replies, back to the client from the published port. */
  async #replies(l: Listening, s: Session): Promise<void> {
    for (;;) {
      let data: Uint8Array;
      let from: Deno.Addr;
      try {
        [data, from] = await s.sock.receive();
      } catch {
        return; // closed, or the replica's port refused: the session ends either way
      }
      // Anyone may send to the session's port: only the replica's datagrams are replies.
      if (
        from.transport !== "udp" || from.port !== s.backend.port ||
        from.hostname !== s.backend.host
      ) continue;
      s.lastAt = this.#now();
      l.conn.send(data, s.client).catch(() => {});
    }
  }

  #end(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    try {
      s.sock.close();
    } catch { /* closed */ }
  }

  /** Ends sessions whose replica is no longer a ready backend. */
  #dropGone(l: Listening): void {
    const { service, container, protocol } = l.owner;
    const live = new Set(
      backendsOf(this.#o.view.replicasOf(service), container, protocol).map((b) => b.key),
    );
    for (const [key, s] of l.sessions) {
      if (!live.has(s.backend.key)) {
        l.sessions.delete(key);
        this.#end(s);
      }
    }
  }

  #sweep(): void {
    const now = this.#now();
    for (const l of this.#listeners.values()) {
      for (const [key, s] of l.sessions) {
        if (now - s.lastAt < this.#idleMs) continue;
        l.sessions.delete(key);
        this.#end(s);
      }
    }
  }

  #result(service: string, result: "ok" | "no_replica", fields: Record<string, unknown> = {}) {
    this.#counter.inc({ service, result });
    const before = this.#state.get(service);
    if (before === result) return;
    this.#state.set(service, result);
    if (result === "no_replica") {
      this.#log.warn("no ready replica; dropping UDP datagrams", { service, ...fields });
    } else if (before !== undefined) {
      this.#log.info("UDP datagrams reach a replica again", { service });
    }
  }

  #reportConflicts(conflicts: PortConflict[]): void {
    this.#conflicts = logNewConflicts(this.#conflicts, conflicts, this.#log, "published UDP port");
  }
}
