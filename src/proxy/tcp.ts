/**
 * Published TCP ports: every node listens on each service's `published` ports and forwards each
 * accepted connection to a ready replica of that service, wherever it runs, round-robin,
 * skipping replicas that just refused or did not answer. Listeners follow the cluster view on
 * every `sync()`, so they keep working while etcd is away.
 * @module
 */
import { Counter, type Registry } from "../metrics/mod.ts";
import { portKey, type ReplicaStatus, type ServiceRecord } from "../state/types.ts";
import type { ClusterView } from "../state/view.ts";
import { closeQuietly, connectWithin, denoConnect, splice, type TcpConnect } from "../util/conn.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { unavailableReason } from "./routes.ts";

/** Name of the connection counter, labelled `service` and `result` (ok, no_replica, failed). */
export const TCP_CONNECTIONS_METRIC = "fossora_tcp_connections_total";

export type { TcpConnect };

/** What the forwarder needs. */
export interface TcpForwarderOptions {
  view: ClusterView;
  /** Address to listen on; default `0.0.0.0`. */
  hostname?: string;
  /** The agent's own ports (API, HTTP, DNS, etcd): never listened on, even when published. */
  reservedPorts?: number[];
  metrics?: Registry;
  log?: Logger;
  /** Clock, ms; drives how long a failed replica or an unopenable port is left alone. */
  now?: () => number;
  /** How long to wait for a replica to accept a connection, ms; default 3000. */
  connectTimeoutMs?: number;
  /** How long a replica that refused or timed out is skipped, ms; default 5000. */
  outMs?: number;
  /** Least time between two attempts to open a port that could not be opened, ms; default 5000. */
  retryMs?: number;
  /** How to reach a replica; default `Deno.connect`. Tests pass one that hangs or counts. */
  connect?: TcpConnect;
}

/** The service and container port behind one published port. */
export interface PortOwner {
  service: string;
  container: number;
  protocol?: "udp";
}

/** A published port that is not served, and why. */
export interface PortConflict {
  port: number;
  service: string;
  reason: string;
}

/** One replica's host port for the container port being forwarded. */
export interface TcpBackend {
  /** `address:port`, the key for marking it out. */
  key: string;
  host: string;
  port: number;
}

/** Result label of the connection counter. */
type Result = "ok" | "no_replica" | "failed";

interface Listening {
  listener: Deno.TcpListener;
  loop: Promise<void>;
  closed: boolean;
}

/**
 * Which service serves each published port of `protocol`. Services are taken in name order, so
 * when two publish the same port the first name wins; reserved and out-of-range ports are
 * refused.
 */
export function assignPorts(
  services: ServiceRecord[],
  reserved: ReadonlySet<number>,
  protocol: "tcp" | "udp" = "tcp",
): { owners: Map<number, PortOwner>; conflicts: PortConflict[] } {
  const owners = new Map<number, PortOwner>();
  const conflicts: PortConflict[] = [];
  const sorted = [...services].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  for (const { spec } of sorted) {
    for (const p of spec.ports) {
      const port = p.published;
      if (port === undefined || (p.protocol ?? "tcp") !== protocol) continue;
      const service = spec.name;
      const owner = owners.get(port);
      if (!validPort(port)) {
        conflicts.push({ port, service, reason: "it is not a port number (1..65535)" });
      } else if (reserved.has(port)) {
        conflicts.push({ port, service, reason: "the agent itself uses it" });
      } else if (owner && owner.service !== service) {
        conflicts.push({ port, service, reason: `service ${owner.service} publishes it too` });
      } else if (!owner) {
        owners.set(port, {
          service,
          container: p.container,
          ...(p.protocol && { protocol: p.protocol }),
        });
      }
    }
  }
  return { owners, conflicts };
}

/** The ready replicas that publish the container port on their node, in view order. */
export function backendsOf(
  replicas: ReplicaStatus[],
  container: number,
  protocol?: "udp",
): TcpBackend[] {
  const out: TcpBackend[] = [];
  const key = portKey({ container, protocol });
  for (const r of replicas) {
    const port = r.ready ? r.ports[key] : undefined;
    if (port !== undefined && validPort(port) && r.address) {
      out.push({ key: `${r.address}:${port}`, host: r.address, port });
    }
  }
  return out;
}

/**
 * The backends to try, round-robin from `start`, leaving out those marked out; when every one is
 * out they are all tried anyway, since refusing for sure is worse than a stale guess.
 */
export function orderBackends(
  backends: TcpBackend[],
  start: number,
  isOut: (b: TcpBackend) => boolean,
): TcpBackend[] {
  if (backends.length === 0) return [];
  const s = start % backends.length;
  const rotated = [...backends.slice(s), ...backends.slice(0, s)];
  const up = rotated.filter((b) => !isOut(b));
  return up.length > 0 ? up : rotated;
}

/** Listens on every published port and forwards connections to live replicas. */
export class TcpForwarder {
  readonly #o: TcpForwarderOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #connect: TcpConnect;
  readonly #connectTimeoutMs: number;
  readonly #outMs: number;
  readonly #retryMs: number;
  readonly #reserved: ReadonlySet<number>;
  readonly #counter: Counter;
  readonly #listeners = new Map<number, Listening>();
  /** Ports that could not be opened: when to try again, and the reason last logged. */
  readonly #failures = new Map<number, { retryAt: number; reason: string }>();
  /** Conflicts already logged, so a sync after every view change does not repeat them. */
  #conflicts = new Set<string>();
  #owners = new Map<number, PortOwner>();
  /** Round-robin position per service. */
  readonly #next = new Map<string, number>();
  readonly #outUntil = new Map<string, number>();
  /** Last availability logged per service, so a flood of refused clients logs once. */
  readonly #state = new Map<string, Result>();
  readonly #conns = new Set<Deno.Conn>();
  readonly #sessions = new Set<Promise<void>>();
  readonly #stopping = new AbortController();

  constructor(o: TcpForwarderOptions) {
    const durations = { connectTimeoutMs: o.connectTimeoutMs, outMs: o.outMs, retryMs: o.retryMs };
    for (const [name, v] of Object.entries(durations)) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
        throw new Error(`tcp forwarder: ${name} ${v} must be a positive number of milliseconds`);
      }
    }
    const badReserved = (o.reservedPorts ?? []).filter((p) => !validPort(p));
    if (badReserved.length > 0) {
      throw new Error(`tcp forwarder: reserved ports ${badReserved.join(", ")} must be 1..65535`);
    }
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#connect = o.connect ?? denoConnect;
    this.#connectTimeoutMs = o.connectTimeoutMs ?? 3000;
    this.#outMs = o.outMs ?? 5000;
    this.#retryMs = o.retryMs ?? 5000;
    this.#reserved = new Set(o.reservedPorts ?? []);
    const help = "TCP connections accepted on published ports, by service and result.";
    this.#counter = o.metrics
      ? o.metrics.counter(TCP_CONNECTIONS_METRIC, help)
      : new Counter(TCP_CONNECTIONS_METRIC, help);
  }

  /**
   * Brings listeners in line with the view: opens new published ports (and ports that failed
   * before, once `retryMs` has passed), closes ports no longer published. Connections accepted on
   * a closed port carry on. Call after every view change; never throws.
   */
  sync(): void {
    if (this.#stopping.signal.aborted) return;
    try {
      const { owners, conflicts } = assignPorts(this.#o.view.services(), this.#reserved);
      this.#owners = owners;
      this.#reportConflicts(conflicts);
      for (const port of this.#listeners.keys()) if (!owners.has(port)) this.#close(port);
      for (const port of this.#failures.keys()) if (!owners.has(port)) this.#failures.delete(port);
      for (const [port, owner] of owners) if (!this.#listeners.has(port)) this.#open(port, owner);
      this.#forgetServices(owners);
    } catch (err) {
      this.#log.error("cannot sync published ports", { err });
    }
  }

  /** Ports listened on now, ascending. */
  listening(): number[] {
    return [...this.#listeners.keys()].sort((a, b) => a - b);
  }

  /** Closes every listener and every live connection, and waits for them to finish. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("forwarder stopped"));
    const loops = [...this.#listeners.values()].map((l) => l.loop);
    for (const port of [...this.#listeners.keys()]) this.#close(port);
    for (const c of this.#conns) closeQuietly(c);
    await Promise.all([...loops, ...this.#sessions]);
  }

  #open(port: number, owner: PortOwner): void {
    const failure = this.#failures.get(port);
    if (failure && this.#now() < failure.retryAt) return;
    const hostname = this.#o.hostname ?? "0.0.0.0";
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname, port, transport: "tcp" });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#failures.set(port, { retryAt: this.#now() + this.#retryMs, reason });
      const fields = { port, service: owner.service, hostname, reason, hint: hintFor(err) };
      if (failure?.reason === reason) this.#log.debug("published port still unavailable", fields);
      else this.#log.warn("cannot listen on published port; will retry", fields);
      return;
    }
    this.#failures.delete(port);
    const entry: Listening = { listener, loop: Promise.resolve(), closed: false };
    entry.loop = this.#acceptLoop(port, entry);
    this.#listeners.set(port, entry);
    this.#log.info("listening on published port", { port, service: owner.service, hostname });
  }

  #close(port: number): void {
    const entry = this.#listeners.get(port);
    if (!entry) return;
    this.#listeners.delete(port);
    entry.closed = true;
    closeQuietly(entry.listener);
    this.#log.info("stopped listening on published port", { port });
  }

  async #acceptLoop(port: number, entry: Listening): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await entry.listener.accept();
      } catch (err) {
        if (entry.closed) return;
        // Out of file descriptors and the like: give the port up; the next sync reopens it.
        this.#close(port);
        this.#failures.set(port, { retryAt: this.#now() + this.#retryMs, reason: String(err) });
        this.#log.warn("published port stopped accepting; will retry", { port, err });
        return;
      }
      const session = this.#serve(port, conn);
      this.#sessions.add(session);
      session.finally(() => this.#sessions.delete(session));
    }
  }

  /** One client connection, from accept to close; never rejects. */
  async #serve(port: number, client: Deno.TcpConn): Promise<void> {
    this.#track(client);
    try {
      const owner = this.#owners.get(port);
      if (!owner) return; // unpublished between accept and now
      const backend = await this.#dial(owner);
      if (!backend) return;
      this.#track(backend);
      try {
        client.setNoDelay(true);
        backend.setNoDelay(true);
        await splice(client, backend);
      } catch (err) {
        this.#log.debug("connection ended with an error", { port, service: owner.service, err });
      } finally {
        this.#untrack(backend);
      }
    } catch (err) {
      this.#log.error("unexpected error on a published port", { port, err });
    } finally {
      this.#untrack(client);
    }
  }

  /** Connects to a live replica of the owner, or records why not; undefined when none. */
  async #dial(owner: PortOwner): Promise<Deno.TcpConn | undefined> {
    const { service, container } = owner;
    const replicas = this.#o.view.replicasOf(service);
    const backends = backendsOf(replicas, container);
    if (backends.length === 0) {
      const record = this.#o.view.service(service);
      const reason = record ? unavailableReason(record, replicas) : "it was removed";
      this.#result(service, "no_replica", { reason });
      return undefined;
    }
    const start = this.#next.get(service) ?? 0;
    this.#next.set(service, (start + 1) % backends.length);
    let lastError: unknown;
    for (const b of orderBackends(backends, start, (b) => this.#isOut(b))) {
      if (this.#stopping.signal.aborted) return undefined;
      try {
        const conn = await this.#connectOne(b);
        this.#outUntil.delete(b.key);
        this.#result(service, "ok");
        return conn;
      } catch (err) {
        lastError = err;
        this.#outUntil.set(b.key, this.#now() + this.#outMs);
        this.#log.debug("replica did not accept; trying the next", {
          service,
          replica: b.key,
          err,
        });
      }
    }
    if (this.#stopping.signal.aborted) return undefined;
    this.#result(service, "failed", { err: lastError });
    return undefined;
  }

  /** Connects within the timeout; a late connection is closed, and stop() aborts the attempt. */
  #connectOne(b: TcpBackend): Promise<Deno.TcpConn> {
    const stop = this.#stopping.signal;
    return connectWithin(this.#connect, b.host, b.port, this.#connectTimeoutMs, stop);
  }

  #isOut(b: TcpBackend): boolean {
    const until = this.#outUntil.get(b.key);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#outUntil.delete(b.key);
    return false;
  }

  /** Counts a connection, and logs when the service's availability changes. */
  #result(service: string, result: Result, fields: Record<string, unknown> = {}): void {
    this.#counter.inc({ service, result });
    const before = this.#state.get(service);
    if (before === result) return;
    this.#state.set(service, result);
    if (result === "no_replica") {
      this.#log.warn("no ready replica; closing TCP connections", { service, ...fields });
    } else if (result === "failed") {
      this.#log.warn("no replica accepts TCP connections; closing them", { service, ...fields });
    } else if (before !== undefined) {
      this.#log.info("TCP connections reach a replica again", { service });
    }
  }

  #reportConflicts(conflicts: PortConflict[]): void {
    this.#conflicts = logNewConflicts(this.#conflicts, conflicts, this.#log, "published port");
  }

  /** Drops per-service state of services that no longer publish a port. */
  #forgetServices(owners: Map<number, PortOwner>): void {
    const live = new Set([...owners.values()].map((o) => o.service));
    for (const s of this.#state.keys()) if (!live.has(s)) this.#state.delete(s);
    for (const s of this.#next.keys()) if (!live.has(s)) this.#next.delete(s);
    const now = this.#now();
    for (const [k, until] of this.#outUntil) if (until <= now) this.#outUntil.delete(k);
  }

  /** Keeps a connection for stop(); one opened after stop() began is closed at once. */
  #track(conn: Deno.Conn): void {
    if (this.#stopping.signal.aborted) closeQuietly(conn);
    else this.#conns.add(conn);
  }

  #untrack(conn: Deno.Conn): void {
    this.#conns.delete(conn);
    closeQuietly(conn);
  }
}

/**
 * Logs the conflicts not logged by the last call (`before`), so a sync after every view change
 * does not repeat them; returns what to pass as `before` next time.
 */
export function logNewConflicts(
  before: ReadonlySet<string>,
  conflicts: PortConflict[],
  log: Logger,
  what: string,
): Set<string> {
  const seen = new Set<string>();
  for (const c of conflicts) {
    const key = `${c.port}/${c.service}/${c.reason}`;
    seen.add(key);
    if (!before.has(key)) {
      log.warn(`${what} not served`, {
        port: c.port,
        service: c.service,
        reason: c.reason,
        hint: "publish another port in the service file",
      });
    }
  }
  return seen;
}

/** A whole port number, 1..65535. */
export function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** What to do about a port that cannot be listened on. */
export function hintFor(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) {
    return "another program uses this port; stop it or publish another port";
  }
  if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
    return "ports below 1024 need root or CAP_NET_BIND_SERVICE; run the agent with it";
  }
  return "check the bind address and the port";
}
