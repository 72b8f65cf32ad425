/**
 * A local TCP load balancer for the agent's etcd client, like k3s's agent load balancer: the
 * client dials one fixed loopback URL for its whole life, and the balancer relays each connection
 * to one of the voters' client URLs, a list the agent updates as voters come and go. TLS runs end
 * to end between the client and the member (the client checks ETCD_SERVER_NAME whatever address
 * is dialled), so the balancer only moves bytes.
 * @module
 */
import { pause } from "../util/pause.ts";
import { closeQuietly, connectWithin, denoConnect, splice, type TcpConnect } from "../util/conn.ts";
import { type Logger, silentLogger } from "../util/log.ts";

/** Options of an {@link EtcdBalancer}. */
export interface EtcdBalancerOptions {
  /** The members' client URLs, `https://host:port`; more can come later with `setEndpoints`. */
  endpoints?: string[];
  /** The endpoint tried first when it is listed: a voter's own member. */
  preferred?: string;
  /** Loopback port to listen on; default 0, a free port picked by the kernel. */
  port?: number;
  log?: Logger;
  /** How long to wait for an endpoint to accept a connection, ms; default 1000. */
  dialTimeoutMs?: number;
  /** How long an endpoint that refused or timed out is passed over, ms; default 3000. */
  outMs?: number;
  /** Clock, ms; drives how long a failed endpoint is passed over. */
  now?: () => number;
  /** How to reach an endpoint; default `Deno.connect`. Tests pass one that never answers. */
  connect?: TcpConnect;
}

/** One member's client URL, parsed. */
interface Endpoint {
  /** `scheme://host:port`, the endpoint's identity. */
  url: string;
  hostname: string;
  port: number;
}

/** One accepted client connection and, once dialled, the member connection it is relayed to. */
interface Relay {
  client: Deno.TcpConn;
  server?: Deno.TcpConn;
  endpoint?: string;
}

/** Where the balancer listens: loopback only, since only this node's agent dials it. */
const HOSTNAME = "127.0.0.1";
/** Pause after the listener fails to accept (out of file descriptors), ms. */
const ACCEPT_PAUSE_MS = 500;

/**
 * The order to dial endpoints in: the preferred one first, then the others starting from the one
 * that worked last, leaving out those passed over; when every one is passed over they are all
 * tried anyway, since closing the client connection for sure is worse than a stale guess.
 */
export function dialOrder<T extends { url: string }>(
  endpoints: readonly T[],
  preferred: string | undefined,
  lastGood: string | undefined,
  isOut: (e: T) => boolean,
): T[] {
  const first = endpoints.filter((e) => e.url === preferred);
  const others = endpoints.filter((e) => e.url !== preferred);
  const start = Math.max(0, others.findIndex((e) => e.url === lastGood));
  const all = [...first, ...others.slice(start), ...others.slice(0, start)];
  const up = all.filter((e) => !isOut(e));
  return up.length > 0 ? up : all;
}

/**
 * Parses a member's client URL to `scheme://host:port`; throws an error that says what a good one
 * looks like.
 */
export function parseEndpoint(raw: string): Endpoint {
  const bad = (why: string) =>
    new Error(`etcd endpoint "${raw}" ${why}; give a client URL like https://10.0.0.2:2379`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad("is not a URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw bad("must be http or https");
  if (u.port === "") throw bad("has no port");
  if (u.username || u.password || u.search || u.hash || (u.pathname !== "/" && u.pathname !== "")) {
    throw bad("must be only scheme, host and port");
  }
  // URL keeps the brackets of an IPv6 address; Deno.connect wants the bare address.
  const hostname = u.hostname.replace(/^\[(.*)\]$/, "$1");
  return { url: `${u.protocol}//${u.host}`, hostname, port: Number(u.port) };
}

/**
 * Listens on 127.0.0.1 and relays each accepted connection to a reachable endpoint. Dropping an
 * endpoint closes the connections relayed to it, so the client reconnects to a current one; an
 * endpoint coming back does not move existing connections.
 */
export class EtcdBalancer {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #connect: TcpConnect;
  readonly #dialTimeoutMs: number;
  readonly #outMs: number;
  readonly #port: number;
  readonly #scheme: string;
  #endpoints: Endpoint[] = [];
  #preferred: string | undefined;
  #lastGood: string | undefined;
  /** Until when each endpoint that failed is passed over. */
  readonly #outUntil = new Map<string, number>();
  /** Endpoints failing since their last success: warned about once per streak. */
  readonly #failing = new Set<string>();
  /** Set once "no endpoint" was warned about, until endpoints are set again. */
  #warnedEmpty = false;
  #listener: Deno.TcpListener | undefined;
  #loop: Promise<void> = Promise.resolve();
  readonly #relays = new Set<Relay>();
  readonly #sessions = new Set<Promise<void>>();
  readonly #stopping = new AbortController();

  constructor(o: EtcdBalancerOptions = {}) {
    for (const name of ["dialTimeoutMs", "outMs"] as const) {
      const v = o[name];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
        throw new Error(`etcd balancer: ${name} ${v} must be a positive number of milliseconds`);
      }
    }
    if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port <= 65535)) {
      throw new Error(`etcd balancer: port ${o.port} must be 0..65535 (0 picks a free one)`);
    }
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#connect = o.connect ?? denoConnect;
    this.#dialTimeoutMs = o.dialTimeoutMs ?? 1000;
    this.#outMs = o.outMs ?? 3000;
    this.#port = o.port ?? 0;
    const endpoints = (o.endpoints ?? []).map(parseEndpoint);
    this.#scheme = endpoints[0]?.url.split(":")[0] ?? "https";
    this.#apply(endpoints, o.preferred, false);
  }

  /** Starts listening on 127.0.0.1; rejects when the port cannot be had. */
  start(): Promise<void> {
    try {
      this.#listen();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #listen(): void {
    if (this.#listener || this.#stopping.signal.aborted) {
      throw new Error("etcd balancer: start() was already called; make a new balancer");
    }
    try {
      this.#listener = Deno.listen({ hostname: HOSTNAME, port: this.#port, transport: "tcp" });
    } catch (err) {
      throw new Error(
        `etcd balancer cannot listen on ${HOSTNAME}:${this.#port}: ${(err as Error).message}; ` +
          `free the port or give another one (0 picks a free port)`,
      );
    }
    this.#loop = this.#acceptLoop(this.#listener);
    this.#log.info("etcd balancer listening", {
      url: this.url,
      endpoints: this.endpoints(),
      preferred: this.#preferred,
    });
  }

  /** The URL the etcd client dials: `https://127.0.0.1:<port>` (the endpoints' scheme). */
  get url(): string {
    if (!this.#listener) throw new Error("etcd balancer: call start() before asking for its url");
    return `${this.#scheme}://${HOSTNAME}:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** The endpoints connections are relayed to, as `scheme://host:port`. */
  endpoints(): string[] {
    return this.#endpoints.map((e) => e.url);
  }

  /** The preferred endpoint, as given (it is dialled first only while it is listed). */
  preferred(): string | undefined {
    return this.#preferred;
  }

  /** The endpoint each live relayed connection goes to, for status and tests. */
  relays(): string[] {
    return [...this.#relays].flatMap((r) => r.endpoint ? [r.endpoint] : []);
  }

  /**
   * Replaces the endpoint list; `preferred` replaces the preferred endpoint when given. Connections
   * relayed to an endpoint no longer listed are closed. Throws, changing nothing, on a bad URL or
   * one whose scheme differs from the balancer's own URL.
   */
  setEndpoints(urls: string[], preferred?: string): void {
    const endpoints = urls.map(parseEndpoint);
    const wrong = endpoints.find((e) => !e.url.startsWith(`${this.#scheme}://`));
    if (wrong) {
      throw new Error(
        `etcd endpoint ${wrong.url} does not use ${this.#scheme}, which the etcd client was ` +
          `made for; give ${this.#scheme} URLs or make a new balancer and client`,
      );
    }
    this.#apply(endpoints, preferred ?? this.#preferred, true);
  }

  /** Closes the listener and every relayed connection; resolves once all are closed. */
  async stop(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort(new Error("etcd balancer stopped"));
      if (this.#listener) closeQuietly(this.#listener);
      for (const r of this.#relays) this.#closeRelay(r);
    }
    await Promise.all([this.#loop, ...this.#sessions]);
  }

  #apply(endpoints: Endpoint[], preferred: string | undefined, log: boolean): void {
    const unique = [...new Map(endpoints.map((e) => [e.url, e])).values()];
    const pref = preferred === undefined ? undefined : parseEndpoint(preferred).url;
    const before = this.endpoints();
    const changed = before.join(",") !== unique.map((e) => e.url).join(",") ||
      pref !== this.#preferred;
    this.#endpoints = unique;
    this.#preferred = pref;
    if (changed) this.#warnedEmpty = false;
    const live = new Set(this.endpoints());
    for (const url of [...this.#outUntil.keys()]) if (!live.has(url)) this.#outUntil.delete(url);
    for (const url of [...this.#failing]) if (!live.has(url)) this.#failing.delete(url);
    const dropped = [...this.#relays].filter((r) => r.endpoint && !live.has(r.endpoint));
    for (const r of dropped) {
      this.#relays.delete(r);
      this.#closeRelay(r);
    }
    if (changed && log) {
      this.#log.info("etcd endpoints changed", {
        endpoints: this.endpoints(),
        preferred: pref,
        closed: dropped.length || undefined,
      });
    }
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    const stop = this.#stopping.signal;
    while (!stop.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (stop.aborted) return;
        // Out of file descriptors and the like: the port must stay ours, so pause and go on.
        this.#log.warn("etcd balancer failed to accept a connection", { err });
        await pause(ACCEPT_PAUSE_MS, stop);
        continue;
      }
      const session = this.#serve(conn);
      this.#sessions.add(session);
      session.finally(() => this.#sessions.delete(session));
    }
  }

  /** One client connection, from accept to close; never rejects. */
  async #serve(client: Deno.TcpConn): Promise<void> {
    const relay: Relay = { client };
    this.#relays.add(relay);
    try {
      if (this.#stopping.signal.aborted) return;
      const dialled = await this.#dial();
      if (!dialled) return;
      relay.server = dialled.conn;
      relay.endpoint = dialled.endpoint.url;
      // Stopped, or the endpoint dropped, while it was being dialled.
      if (this.#stopping.signal.aborted || !this.endpoints().includes(relay.endpoint)) return;
      client.setNoDelay(true);
      relay.server.setNoDelay(true);
      await splice(client, relay.server);
    } catch (err) {
      this.#log.debug("etcd relay ended with an error", { endpoint: relay.endpoint, err });
    } finally {
      this.#relays.delete(relay);
      this.#closeRelay(relay);
    }
  }

  /** Connects to the first endpoint that answers, in {@link dialOrder}; undefined when none. */
  async #dial(): Promise<{ conn: Deno.TcpConn; endpoint: Endpoint } | undefined> {
    const stop = this.#stopping.signal;
    const order = dialOrder(
      this.#endpoints,
      this.#preferred,
      this.#lastGood,
      (e) => this.#isOut(e),
    );
    if (order.length === 0) {
      if (!this.#warnedEmpty) {
        this.#warnedEmpty = true;
        this.#log.warn("no etcd endpoint to relay to; closing etcd client connections");
      }
      return undefined;
    }
    for (const endpoint of order) {
      if (stop.aborted) return undefined;
      try {
        const conn = await connectWithin(
          this.#connect,
          endpoint.hostname,
          endpoint.port,
          this.#dialTimeoutMs,
          stop,
        );
        this.#succeeded(endpoint);
        return { conn, endpoint };
      } catch (err) {
        if (stop.aborted) return undefined;
        this.#failed(endpoint, err);
      }
    }
    this.#log.debug("no etcd endpoint answered; closing the client connection", {
      endpoints: order.map((e) => e.url),
    });
    return undefined;
  }

  #succeeded(e: Endpoint): void {
    this.#lastGood = e.url;
    this.#outUntil.delete(e.url);
    if (this.#failing.delete(e.url)) {
      this.#log.info("etcd endpoint reachable again", { endpoint: e.url });
    }
  }

  #failed(e: Endpoint, err: unknown): void {
    this.#outUntil.set(e.url, this.#now() + this.#outMs);
    if (this.#failing.has(e.url)) {
      this.#log.debug("etcd endpoint still unreachable", { endpoint: e.url, err });
      return;
    }
    this.#failing.add(e.url);
    this.#log.warn("cannot reach etcd endpoint; trying the others", {
      endpoint: e.url,
      err,
      retryInMs: this.#outMs,
    });
  }

  #isOut(e: Endpoint): boolean {
    const until = this.#outUntil.get(e.url);
    return until !== undefined && until > this.#now();
  }

  #closeRelay(r: Relay): void {
    closeQuietly(r.client);
    if (r.server) closeQuietly(r.server);
  }
}
