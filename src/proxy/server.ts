/**
 * The service proxy: `http://NAME.DOMAIN/` on any node reaches a ready replica of NAME, wherever
 * it runs, WebSockets included. Routes come from the cluster view, so it keeps serving while etcd
 * is away.
 *
 * It speaks HTTP/1.1 itself over plain sockets: every request head is parsed strictly and written
 * anew for the backend, every body is re-framed, so what a backend reads is exactly what the
 * proxy understood (no request smuggling). Each connection has deadlines, enforced by one
 * sweeper; a client that leaves aborts its backend exchange at once.
 * @module
 */
import { Counter, type Registry } from "../metrics/mod.ts";
import type { ClusterView } from "../state/view.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { type Framing, relayBody, type RelayOptions } from "./body.ts";
import { forwardingFields, isForwardingField, type Seen, TrustedProxies } from "./forwarded.ts";
import {
  bytesOf,
  endToEnd,
  fieldLines,
  HeadError,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  tokens,
} from "./head.ts";
import { type ProxyLimits, resolveLimits } from "./limits.ts";
import {
  badGatewayPage,
  gatewayTimeoutPage,
  noHttpPortPage,
  type Page,
  redirectPage,
  unavailablePage,
  unknownHostPage,
} from "./pages.ts";
import { HeadTooLarge, Peer, RelayBuffers, Sweeper } from "./peer.ts";
import { type Connect, ConnectTimeout, UpstreamPool } from "./pool.ts";
import type { KeyPair } from "./certificate.ts";
import { type Backend, type Route, Router } from "./routes.ts";

/** What the proxy needs. */
export interface ProxyOptions {
  view: ClusterView;
  /** Services are `NAME.DOMAIN`. */
  domain: string;
  /** 0 picks a free port; read the actual one from `port` after `start`. */
  port: number;
  /** Address to listen on; default `0.0.0.0`. */
  hostname?: string;
  metrics?: Registry;
  log?: Logger;
  /** Clock, ms; used for deadlines and to keep refused replicas out for a while. */
  now?: () => number;
  /** How long a replica that refused a connection is skipped, ms; default 5000. */
  outMs?: number;
  /** Addresses and CIDRs whose X-Forwarded-* and Forwarded fields are kept; default none. */
  trustedProxies?: readonly string[];
  /** Limits and timeouts; see {@link ProxyLimits}. */
  limits?: Partial<ProxyLimits>;
  /** How often deadlines are checked, ms; default 250. */
  sweepMs?: number;
  /** Opens connections to replicas; default Deno.connect. */
  connect?: Connect;
  /**
   * The HTTPS port (0 picks a free one). It listens once it has a certificate
   * ({@link ServiceProxy.setCertificate}).
   */
  httpsPort?: number;
}

/** The proxy could not listen on one of its ports; `cause` is Deno's error (AddrInUse...). */
export class ListenError extends Error {
  constructor(readonly scheme: "http" | "https", readonly port: number, options: ErrorOptions) {
    super(`the proxy cannot listen for ${scheme} on port ${port}: ${options.cause}`, options);
  }
}

/** A listening socket and the scheme its clients use. */
interface Listening {
  listener: Deno.Listener;
  proto: "http" | "https";
  accepting: Promise<void>;
}

/** Name of the request counter. */
export const REQUESTS_METRIC = "fossora_proxy_requests_total";
/** Name of the counter of connections and requests refused by a limit. */
export const REFUSED_METRIC = "fossora_proxy_refused_total";

/** Methods that are safe to send again to another replica. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
const CLIENT_BUFFER = 4096;
const REASONS: Record<number, string> = {
  307: "Temporary Redirect",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
const DROP_ON_REQUEST = new Set(["host"]);

/** How a backend exchange failed before a response could be relayed. */
interface Failure {
  /** 400 when the client's own body was malformed. */
  status: 400 | 502 | 504;
  why: string;
  /** Where to try again: the next replica, the same one on a new connection, or nowhere. */
  retry: "next" | "same" | "no";
  /** The replica refused or reset a new connection: skip it for a while. */
  out?: boolean;
}

/** Forwards HTTP and WebSocket requests by Host header to the ready replicas of a service. */
export class ServiceProxy {
  readonly #o: ProxyOptions;
  readonly #limits: ProxyLimits;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #router: Router;
  readonly #trusted: TrustedProxies;
  readonly #requests: Counter;
  readonly #refused: Counter;
  readonly #sweeper: Sweeper;
  readonly #pool: UpstreamPool;
  readonly #buffers: RelayBuffers;
  readonly #relay: RelayOptions;
  readonly #tunnelRelay: RelayOptions;
  readonly #clients = new Set<Peer>();
  /** Counts the starts of waiting for a head: the client waiting longest is evicted first. */
  #waits = 0;
  readonly #handlers = new Set<Promise<void>>();
  readonly #labels = new Map<string, { service: string; code: string }>();
  readonly #logged = new Map<string, number>();
  /** The last failed request of each service, until one succeeds: for the API, not visitors. */
  readonly #failures = new Map<string, { why: string; at: number }>();
  #http: Listening | undefined;
  #https: Listening | undefined;
  #certificate: KeyPair | undefined;
  #started = false;
  #port = 0;
  #httpsPort = 0;

  constructor(o: ProxyOptions) {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
      throw new Error(`proxy: port ${o.port} must be 0..65535`);
    }
    if (!/^[a-z0-9.-]+$/i.test(o.domain.replace(/^\.+|\.+$/g, ""))) {
      throw new Error(`proxy: domain "${o.domain}" is not a DNS name; pass e.g. home.arpa`);
    }
    this.#o = o;
    this.#limits = resolveLimits(o.limits);
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#router = new Router(o.view, o.domain, this.#now, o.outMs ?? 5000);
    this.#trusted = new TrustedProxies(o.trustedProxies ?? []);
    this.#requests = o.metrics
      ? o.metrics.counter(REQUESTS_METRIC, "HTTP requests through the service proxy.")
      : new Counter(REQUESTS_METRIC, "");
    this.#refused = o.metrics
      ? o.metrics.counter(REFUSED_METRIC, "Connections and requests the proxy refused, by limit.")
      : new Counter(REFUSED_METRIC, "");
    o.metrics?.gauge("fossora_proxy_connections", "Open proxy connections, by side.", () => [
      { labels: { side: "client" }, value: this.#clients.size },
      { labels: { side: "backend" }, value: this.#pool.size },
    ]);
    o.metrics?.gauge(
      "fossora_proxy_relay_buffer_bytes",
      "Bytes of the big buffers bodies are relayed through, in use now.",
      () => [{ labels: {}, value: this.#buffers.lent }],
    );
    this.#sweeper = new Sweeper(this.#now, o.sweepMs ?? 250);
    const l = this.#limits;
    this.#buffers = new RelayBuffers(l.relayBufferBytes, l.relayBuffersTotalBytes);
    this.#pool = new UpstreamPool({
      connect: o.connect ?? connectTcp,
      sweeper: this.#sweeper,
      now: this.#now,
      connectTimeoutMs: l.connectTimeoutMs,
      idleMs: l.upstreamIdleMs,
      maxIdle: l.maxIdlePerBackend,
      bufferSize: CLIENT_BUFFER,
      relay: this.#buffers,
    });
    const relay = { now: this.#now, maxLine: 4096, maxTrailer: l.maxHeadBytes };
    this.#relay = { ...relay, idleMs: l.bodyIdleTimeoutMs };
    this.#tunnelRelay = { ...relay, idleMs: l.tunnelIdleTimeoutMs };
  }

  /** The port the proxy listens on, known after `start`. */
  get port(): number {
    return this.#port;
  }

  /** The HTTPS port, known once it listens (0 before). */
  get httpsPort(): number {
    return this.#httpsPort;
  }

  /**
   * Listens on the HTTP port, and on the HTTPS port when a certificate is set.
   * @throws {ListenError} naming the port that is taken.
   */
  async start(): Promise<void> {
    const hostname = this.#o.hostname ?? "0.0.0.0";
    let listener: Deno.Listener;
    try {
      listener = Deno.listen({ hostname, port: this.#o.port });
    } catch (cause) {
      throw new ListenError("http", this.#o.port, { cause });
    }
    this.#http = { listener, proto: "http", accepting: Promise.resolve() };
    this.#http.accepting = this.#accept(this.#http);
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#started = true;
    this.#log.info("proxy listening", { hostname, port: this.#port, domain: this.#o.domain });
    try {
      this.#listenHttps();
    } catch (cause) {
      await this.stop();
      throw new ListenError("https", this.#o.httpsPort ?? 0, { cause });
    }
  }

  /**
   * Serves this certificate on the HTTPS port from now on. A new certificate takes over by
   * listening anew (Deno caches a certificate per listener): connections already open keep the
   * one they began with.
   */
  async setCertificate(pair: KeyPair): Promise<void> {
    if (
      pair.certPem === this.#certificate?.certPem && pair.keyPem === this.#certificate?.keyPem
    ) return;
    this.#certificate = pair;
    if (!this.#started || this.#o.httpsPort === undefined) return;
    const old = this.#https;
    this.#https = undefined;
    if (old) {
      old.listener.close();
      // The port is free only once the pending accept has let go of it.
      await old.accepting;
    }
    try {
      this.#listenHttps(old ? this.#httpsPort : undefined);
    } catch (err) {
      this.#log.error("the proxy cannot listen for HTTPS", { port: this.#httpsPort, err });
    }
  }

  #listenHttps(port = this.#o.httpsPort): void {
    const pair = this.#certificate;
    if (port === undefined || !pair) return;
    const hostname = this.#o.hostname ?? "0.0.0.0";
    const options = {
      hostname,
      port,
      alpnProtocols: ["http/1.1"],
      // Deno's SNI hook (unstable in 2.9): every name gets the one certificate; an older
      // client without SNI too.
      [Symbol.for("unstableSniResolver")]: () => ({ cert: pair.certPem, key: pair.keyPem }),
    };
    const listener = Deno.listenTls(
      options as unknown as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
    this.#https = { listener, proto: "https", accepting: Promise.resolve() };
    this.#https.accepting = this.#accept(this.#https);
    this.#httpsPort = (listener.addr as Deno.NetAddr).port;
    this.#log.info("proxy listening for HTTPS", { hostname, port: this.#httpsPort });
  }

  /** Stops listening, closes every client, backend and WebSocket connection. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    const listening = [this.#http, this.#https].filter((l) => l !== undefined);
    this.#http = this.#https = undefined;
    for (const l of listening) l.listener.close();
    await Promise.all(listening.map((l) => l.accepting));
    for (const c of this.#clients) c.close();
    this.#pool.stop();
    await Promise.all(this.#handlers);
    this.#sweeper.stop();
  }

  async #accept(l: Listening): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await l.listener.accept();
      } catch (err) {
        if (this.#http !== l && this.#https !== l) return;
        // Out of descriptors, most likely: wait a little rather than spin, and keep serving.
        this.#logOnce("", "cannot accept a connection", { err });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      const h = this.#serve(conn, l.proto).catch((err) =>
        this.#log.debug("proxy connection failed", { err })
      );
      this.#handlers.add(h);
      h.finally(() => this.#handlers.delete(h));
    }
  }

  /** Makes room for one more client: closes the longest-idle one, or refuses. */
  #admit(): boolean {
    if (this.#clients.size < this.#limits.maxConnections) return true;
    this.#refused.inc({ reason: "connection_limit" });
    // A scan, and only at the limit: a set kept in order would cost two updates a request.
    let oldest: Peer | undefined;
    for (const c of this.#clients) {
      if (c.waitingSince > 0 && (!oldest || c.waitingSince < oldest.waitingSince)) oldest = c;
    }
    if (!oldest) return false;
    oldest.close();
    return true;
  }

  async #serve(conn: Deno.Conn, proto: "http" | "https"): Promise<void> {
    if (!this.#admit()) return void conn.close();
    (conn as Deno.TcpConn).setNoDelay?.(true);
    const client = new Peer(conn, CLIENT_BUFFER, this.#buffers);
    this.#clients.add(client);
    this.#sweeper.add(client);
    const remote = conn.remoteAddr as Deno.NetAddr;
    const local = conn.localAddr as Deno.NetAddr;
    const l = this.#limits;
    try {
      for (let first = true;; first = false) {
        client.waitingSince = ++this.#waits;
        client.deadline = this.#now() + (first ? l.headerTimeoutMs : l.keepAliveTimeoutMs);
        const before = client.received;
        let bytes: Uint8Array | null;
        try {
          bytes = await this.#readHead(client);
        } catch (err) {
          if (err instanceof HeadTooLarge) {
            this.#refused.inc({ reason: "head_too_large" });
            await this.#plain(client, 431, `the request head is over ${l.maxHeadBytes} bytes`);
          } else if (client.timedOut) this.#refused.inc({ reason: "header_timeout" });
          return;
        } finally {
          client.waitingSince = 0;
        }
        if (bytes === null) {
          if (client.timedOut && client.received > before) {
            this.#refused.inc({ reason: "header_timeout" });
          }
          return;
        }
        let req: RequestHead;
        try {
          req = parseRequestHead(bytes, l.maxHeaderFields);
        } catch (err) {
          if (!(err instanceof HeadError)) throw err;
          this.#refused.inc({ reason: "bad_request" });
          this.#log.debug("bad request", { peer: remote.hostname, why: err.message });
          await this.#plain(client, err.status, err.message);
          return;
        }
        client.deadline = Infinity;
        const keep = await this.#handle(client, req, proto, remote.hostname, local.port);
        if (!keep || client.closed) return;
        client.shrink(CLIENT_BUFFER);
      }
    } finally {
      client.close();
      this.#clients.delete(client);
      this.#sweeper.delete(client);
    }
  }

  /**
   * Reads a head. A kept-alive connection may idle until its next request; from that request's
   * first byte on, the whole head must come within the header timeout.
   */
  async #readHead(client: Peer): Promise<Uint8Array | null> {
    const l = this.#limits;
    if (client.available === 0 && !(await client.fill())) return null;
    client.deadline = Math.min(client.deadline, this.#now() + l.headerTimeoutMs);
    return await client.readHead(l.maxHeadBytes);
  }

  /** Answers one request; true when the client connection can carry the next one. */
  #handle(
    client: Peer,
    req: RequestHead,
    proto: "http" | "https",
    peer: string,
    localPort: number,
  ): Promise<boolean> {
    const route = this.#router.route(req.host);
    const hasBody = req.chunked || (req.contentLength ?? 0) > 0;
    const keepAlive = req.minor === 1 && !req.connection.includes("close");
    if (route.kind !== "proxy") {
      const page = this.#routePage(route);
      this.#count(route.kind === "unknown" ? "" : route.service, page.status);
      if (route.kind === "unavailable") {
        this.#logOnce(route.service, "no ready replica", { reason: route.reason });
      }
      const close = hasBody || !keepAlive;
      return this.#sendPage(client, page, req.method === "HEAD", close).then(() => !close);
    }
    if (route.httpsRedirect && proto === "http" && this.#https) {
      const name = (req.host ?? "").replace(/:[0-9]*$/, "");
      const port = this.#httpsPort === 443 ? "" : `:${this.#httpsPort}`;
      const target = req.target === "*" ? "/" : req.target;
      this.#count(route.service, 307);
      const close = hasBody || !keepAlive;
      return this.#sendPage(
        client,
        {
          status: 307,
          html: redirectPage(`https://${name}${port}${target}`),
          headers: { location: `https://${name}${port}${target}` },
        },
        req.method === "HEAD",
        close,
      ).then(() => !close);
    }
    const seen: Seen = {
      peer,
      host: req.host ?? "",
      proto,
      port: hostPort(req.host) ?? localPort,
    };
    return this.#forward(client, req, route.service, route.backends, seen, keepAlive);
  }

  #routePage(route: Exclude<Route, { kind: "proxy" }>): Page {
    switch (route.kind) {
      case "unknown":
        return unknownHostPage(route.host, this.#o.domain);
      case "no-http":
        return noHttpPortPage(route.service);
      case "unavailable":
        return unavailablePage(route.service, route.summary);
    }
  }

  /** The head the backend gets: the client's end-to-end fields, ours, and our framing. */
  #requestHead(req: RequestHead, seen: Seen, upgrade: boolean): Uint8Array {
    const fields = endToEnd(req.fields, req.connection, DROP_ON_REQUEST);
    const trusted = this.#trusted.has(seen.peer);
    const own = fields.filter((f) => !isForwardingField(f.name));
    const claimed = trusted ? fields.filter((f) => isForwardingField(f.name)) : [];
    let head = `${req.method} ${req.target} HTTP/1.1\r\nHost: ${req.host}\r\n` +
      fieldLines(own) + fieldLines(forwardingFields(seen, claimed));
    if (upgrade) head += "Upgrade: websocket\r\nConnection: Upgrade\r\n";
    if (req.chunked) head += "Transfer-Encoding: chunked\r\n";
    else if (req.contentLength !== undefined) head += `Content-Length: ${req.contentLength}\r\n`;
    return bytesOf(head + "\r\n");
  }

  async #forward(
    client: Peer,
    req: RequestHead,
    service: string,
    backends: Backend[],
    seen: Seen,
    keepAlive: boolean,
  ): Promise<boolean> {
    const hasBody = req.chunked || (req.contentLength ?? 0) > 0;
    const upgrade = req.minor === 1 && req.method === "GET" && !hasBody &&
      req.connection.includes("upgrade") && tokens(req.fields, "upgrade").includes("websocket");
    const canRetry = IDEMPOTENT.has(req.method) && !hasBody;
    const head = this.#requestHead(req, seen, upgrade);
    let failure: Failure | undefined;
    for (let i = 0; i < backends.length;) {
      const backend = backends[i];
      const result = await this.#exchange(client, req, head, backend, service, {
        hasBody,
        upgrade,
        keepAlive,
        canRetry,
      });
      if (typeof result === "boolean") return result;
      failure = { ...result, why: `${result.why} (replica at ${backend.key})` };
      if (result.retry === "same") continue;
      if (result.out) this.#router.markOut(backend);
      if (result.status === 400) break;
      this.#logOnce(service, "replica failed", { replica: backend.key, why: result.why });
      if (result.retry === "next") i++;
      else break;
    }
    if (!failure || client.closed) return false;
    if (failure.status === 400) {
      this.#refused.inc({ reason: "bad_request" });
      await this.#plain(client, 400, "a malformed chunked body");
      return false;
    }
    this.#failed(service, failure.why);
    const page = failure.status === 504 ? gatewayTimeoutPage(service) : badGatewayPage(service);
    this.#count(service, page.status);
    await this.#sendPage(client, page, req.method === "HEAD", true);
    return false;
  }

  /**
   * One attempt on one replica. Resolves whether the client connection stays open once a
   * response was relayed, or the failure when none could be.
   */
  async #exchange(
    client: Peer,
    req: RequestHead,
    head: Uint8Array,
    backend: Backend,
    service: string,
    r: { hasBody: boolean; upgrade: boolean; keepAlive: boolean; canRetry: boolean },
  ): Promise<boolean | Failure> {
    const l = this.#limits;
    let up: Peer;
    let reused: boolean;
    try {
      ({ peer: up, reused } = await this.#pool.acquire(backend));
    } catch (err) {
      // Nothing was sent: any request may go to the next replica.
      const timeout = err instanceof ConnectTimeout;
      return { status: timeout ? 504 : 502, why: String(err), retry: "next", out: true };
    }
    // Request body (if any) flows while the response is awaited: a backend may answer early.
    let bodyDone = !r.hasBody;
    let badBody = false;
    let sending: Promise<unknown> = Promise.resolve();
    up.deadline = this.#now() + l.responseTimeoutMs;
    if (r.hasBody) {
      const from: Framing = req.chunked
        ? { kind: "chunked" }
        : { kind: "length", length: req.contentLength! };
      sending = relayBody(client, up, from, req.chunked, this.#relay, head).then((end) => {
        bodyDone = end === "done";
        badBody = end === "malformed";
        if (end === "done") up.deadline = this.#now() + l.responseTimeoutMs;
        else if (end !== "gone") up.close(); // the client left or sent bad chunks: abort
      });
    } else {
      try {
        await up.write(head);
      } catch {
        up.close();
        return reused && r.canRetry
          ? { status: 502, why: "a kept-alive connection was closed", retry: "same" }
          : { status: 502, why: "the connection closed while sending", retry: "no" };
      }
    }
    const watch = new ClientWatch(client, l.maxHeadBytes, () => up.close());
    if (!r.hasBody) watch.start();
    else {
      sending.then(() => {
        if (!bodyDone) return;
        // The upload's big buffer goes back before the watch's read goes into the buffer.
        client.shrink(CLIENT_BUFFER);
        watch.start();
      });
    }
    try {
      let res: ResponseHead | undefined;
      for (;;) {
        let bytes: Uint8Array | null;
        try {
          bytes = await up.readHead(l.maxHeadBytes);
        } catch (err) {
          if (err instanceof HeadTooLarge) {
            up.close();
            return { status: 502, why: "a response head over the size limit", retry: "no" };
          }
          bytes = null;
        }
        if (bytes === null) {
          if (watch.gone || client.closed) return false;
          if (badBody) return { status: 400, why: "malformed chunked body", retry: "no" };
          if (up.timedOut) {
            return { status: 504, why: "no response head in time", retry: "no" };
          }
          const nothing = up.available === 0;
          up.close();
          if (reused && r.canRetry && nothing) {
            return { status: 502, why: "a kept-alive connection was closed", retry: "same" };
          }
          return {
            status: 502,
            why: "the connection closed before a response",
            retry: r.canRetry && nothing ? "next" : "no",
            out: !reused,
          };
        }
        const parsed = parseResponseHead(bytes, l.maxHeaderFields);
        if (typeof parsed === "string") {
          up.close();
          return { status: 502, why: `a malformed response: ${parsed}`, retry: "no" };
        }
        if (parsed.status >= 200 || parsed.status === 101) {
          res = parsed;
          break;
        }
        // Interim answers (100 Continue, 103 Early Hints) go to the client as they come.
        up.deadline = this.#now() + l.responseTimeoutMs;
        const interim = `HTTP/1.1 ${parsed.status} ${parsed.reason}\r\n` +
          fieldLines(endToEnd(parsed.fields, parsed.connection)) + "\r\n";
        try {
          await client.write(bytesOf(interim));
        } catch {
          return false;
        }
      }
      up.deadline = Infinity;
      if (this.#failures.size) this.#failures.delete(service);
      if (res.status === 101) {
        if (!r.upgrade) {
          up.close();
          return {
            status: 502,
            why: "101 Switching Protocols to a request without Upgrade",
            retry: "no",
          };
        }
        watch.stop();
        return await this.#tunnel(client, up, res, service);
      }
      this.#count(service, res.status);
      return await this.#respond(client, up, req, res, r, backend, watch, () => bodyDone);
    } finally {
      watch.stop();
    }
  }

  /** Relays a response; true when the client connection stays open. */
  async #respond(
    client: Peer,
    up: Peer,
    req: RequestHead,
    res: ResponseHead,
    r: { upgrade: boolean; keepAlive: boolean },
    backend: Backend,
    watch: ClientWatch,
    bodyDone: () => boolean,
  ): Promise<boolean> {
    const bodiless = req.method === "HEAD" || res.status === 204 || res.status === 304;
    const from: Framing = bodiless
      ? { kind: "none" }
      : res.chunked
      ? { kind: "chunked" }
      : res.contentLength !== undefined
      ? { kind: "length", length: res.contentLength }
      : { kind: "close" };
    const chunked = req.minor === 1 && (from.kind === "chunked" || from.kind === "close");
    const close = !r.keepAlive || r.upgrade || (from.kind === "close" && !chunked);
    let head = `HTTP/1.1 ${res.status} ${res.reason}\r\n` +
      fieldLines(endToEnd(res.fields, res.connection));
    if (chunked) head += "Transfer-Encoding: chunked\r\n";
    else if (res.contentLength !== undefined && res.status !== 204) {
      head += `Content-Length: ${res.contentLength}\r\n`;
    }
    if (close) head += "Connection: close\r\n";
    const end = await relayBody(up, client, from, chunked, this.#relay, bytesOf(head + "\r\n"));
    if (end !== "done") {
      up.close();
      if (end !== "gone") this.#logOnce(req.host ?? "", "response cut", { why: end });
      return false;
    }
    const done = bodyDone();
    const reusable = done && from.kind !== "close" && res.minor === 1 &&
      !res.connection.includes("close");
    if (reusable) this.#pool.release(backend, up);
    else up.close();
    return !close && done && !watch.gone;
  }

  /** After a 101: bytes both ways until either side closes or both are idle too long. */
  async #tunnel(client: Peer, up: Peer, res: ResponseHead, service: string): Promise<boolean> {
    this.#count(service, 101);
    const head = `HTTP/1.1 101 ${res.reason}\r\n` +
      fieldLines(endToEnd(res.fields, res.connection)) +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    const close = { kind: "close" } as const;
    await Promise.race([
      relayBody(up, client, close, false, this.#tunnelRelay, bytesOf(head)),
      relayBody(client, up, close, false, this.#tunnelRelay),
    ]);
    up.close();
    return false;
  }

  async #plain(client: Peer, status: number, text: string): Promise<void> {
    const body = `${status} ${REASONS[status] ?? ""}: ${text}\n`;
    const head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
      `Content-Length: ${bytesOf(body).length}\r\nConnection: close\r\n\r\n`;
    client.deadline = this.#now() + this.#limits.headerTimeoutMs;
    await client.write(bytesOf(head + body)).catch(() => {});
  }

  async #sendPage(client: Peer, page: Page, head: boolean, close: boolean): Promise<void> {
    const body = new TextEncoder().encode(page.html);
    let text = `HTTP/1.1 ${page.status} ${REASONS[page.status] ?? ""}\r\n` +
      `Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n` +
      `Content-Length: ${body.length}\r\n`;
    for (const [k, v] of Object.entries(page.headers ?? {})) text += `${k}: ${v}\r\n`;
    if (close) text += "Connection: close\r\n";
    const bytes = bytesOf(text + "\r\n");
    const out = head ? bytes : new Uint8Array(bytes.length + body.length);
    if (!head) {
      out.set(bytes);
      out.set(body, bytes.length);
    }
    client.deadline = this.#now() + this.#limits.bodyIdleTimeoutMs;
    await client.write(out).catch(() => client.close());
    client.deadline = Infinity;
  }

  /**
   * Why the last request to `service` failed, for the API and `fossora services`, when it failed
   * within the last 10 minutes and none succeeded since.
   */
  problem(service: string): string | undefined {
    const f = this.#failures.get(service);
    if (!f || this.#now() - f.at > 600_000) return undefined;
    return `the proxy could not get an answer at ${new Date(f.at).toISOString()}: ${f.why}`;
  }

  #failed(service: string, why: string): void {
    if (this.#failures.size > 10_000) this.#failures.clear();
    this.#failures.set(service, { why, at: this.#now() });
  }

  #count(service: string, code: number): void {
    const key = `${service} ${code}`;
    let labels = this.#labels.get(key);
    if (!labels) {
      if (this.#labels.size > 10_000) this.#labels.clear();
      // Frozen, so the registry may format them once.
      this.#labels.set(key, labels = Object.freeze({ service, code: String(code) }));
    }
    this.#requests.inc(labels);
  }

  /** Logs a backend problem at most every 10 s per service and kind, so abuse cannot flood. */
  #logOnce(service: string, what: string, fields: Record<string, unknown>): void {
    const key = `${service} ${what}`;
    const now = this.#now();
    if ((this.#logged.get(key) ?? -Infinity) > now - 10_000) return;
    if (this.#logged.size > 1000) this.#logged.clear();
    this.#logged.set(key, now);
    this.#log.warn(what, { service, ...fields });
  }
}

/**
 * Notices a client that leaves while its request is being answered: one read stays in flight on
 * its socket, and EOF aborts the backend side. Bytes that arrive (a pipelined request) stay
 * buffered for the next round.
 */
class ClientWatch {
  gone = false;
  #stopped = false;
  #started = false;

  constructor(readonly client: Peer, readonly max: number, readonly onGone: () => void) {}

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped && this.client.available < this.max) {
      const ok = await this.client.fill();
      if (this.#stopped) return;
      if (!ok) {
        if (this.client.eof) {
          this.gone = true;
          this.onGone();
        }
        return;
      }
    }
  }

  stop(): void {
    this.#stopped = true;
  }
}

/** The port a Host field names, if any. */
function hostPort(host: string | undefined): number | undefined {
  const m = host ? /:([0-9]{1,5})$/.exec(host) : null;
  return m ? Number(m[1]) : undefined;
}

async function connectTcp(hostname: string, port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname, port });
  conn.setNoDelay(true);
  return conn;
}
