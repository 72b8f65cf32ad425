/**
 * The service proxy: `http://NAME.DOMAIN/` on any node reaches a ready replica of NAME, wherever
 * it runs, WebSockets included. Routes come from the cluster view, so it keeps serving while etcd
 * is away.
 * @module
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import { Readable } from "node:stream";
import httpProxy from "http-proxy";
import { Counter, type Registry } from "../metrics/mod.ts";
import type { ClusterView } from "../state/view.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import {
  badGatewayPage,
  noHttpPortPage,
  type Page,
  unavailablePage,
  unknownHostPage,
} from "./pages.ts";
import { type Backend, Router } from "./routes.ts";

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
  /** Clock, ms; used to keep refused replicas out for a while. */
  now?: () => number;
  /** How long a replica that refused a connection is skipped, ms; default 5000. */
  outMs?: number;
  /** Most connections kept to one backend; default 256. */
  maxSocketsPerBackend?: number;
}

/** Name of the request counter. */
export const REQUESTS_METRIC = "fossora_proxy_requests_total";

/** Methods that are safe to send again to another replica when the first refused. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
/** Errors that mean the request never reached the application. */
const REFUSED = new Set(["ECONNREFUSED", "ECONNRESET"]);
const FORWARDED = ["x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"] as const;
/**
 * Headers that describe one connection (RFC 9110 7.6.1). A request keeps Transfer-Encoding, which
 * node:http needs to frame the body it pipes on; a response loses it and is framed again.
 */
const REQUEST_HOP = ["keep-alive", "proxy-connection", "te", "trailer", "upgrade"];
const RESPONSE_HOP = [...REQUEST_HOP, "transfer-encoding"];

/** Forwards HTTP and WebSocket requests by Host header to the ready replicas of a service. */
export class ServiceProxy {
  readonly #o: ProxyOptions;
  readonly #log: Logger;
  readonly #router: Router;
  readonly #requests: Counter;
  readonly #agent: http.Agent;
  readonly #proxy: httpProxy;
  readonly #server: http.Server;
  readonly #sockets = new Set<Duplex>();
  readonly #labels = new Map<string, { service: string; code: string }>();
  #port = 0;

  constructor(o: ProxyOptions) {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
      throw new Error(`proxy: port ${o.port} must be 0..65535`);
    }
    if (!/^[a-z0-9.-]+$/i.test(o.domain.replace(/^\.+|\.+$/g, ""))) {
      throw new Error(`proxy: domain "${o.domain}" is not a DNS name; pass e.g. home.arpa`);
    }
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#router = new Router(o.view, o.domain, o.now ?? Date.now, o.outMs ?? 5000);
    this.#requests = o.metrics
      ? o.metrics.counter(REQUESTS_METRIC, "HTTP requests through the service proxy.")
      : new Counter(REQUESTS_METRIC, "");
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSocketsPerBackend ?? 256 });
    this.#proxy = httpProxy.createProxyServer({ xfwd: true, agent: this.#agent });
    // Every call passes its own callback; this only keeps a stray error from throwing.
    this.#proxy.on("error", (e) => this.#log.debug("proxy error", { error: e }));
    this.#proxy.on("open", (s: Duplex) => this.#track(s));
    // http-proxy only rewrites Connection itself; the other hop-by-hop headers must not cross.
    this.#proxy.on("proxyReq", (proxyReq: http.ClientRequest, req: http.IncomingMessage) => {
      for (const h of hopByHop(req.headers, REQUEST_HOP)) proxyReq.removeHeader(h);
    });
    this.#proxy.on("proxyRes", (proxyRes: http.IncomingMessage) => {
      for (const h of hopByHop(proxyRes.headers, RESPONSE_HOP)) delete proxyRes.headers[h];
    });
    this.#server = http.createServer((req, res) => this.#web(req, res));
    this.#server.on("upgrade", (req, socket, head) => this.#ws(req, socket, head));
    this.#server.on("connection", (s) => this.#track(s));
    this.#server.on("clientError", (_e, socket: Duplex) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
  }

  /** The port the proxy listens on, known after `start`. */
  get port(): number {
    return this.#port;
  }

  /** Listens; rejects when the port is taken. */
  start(): Promise<void> {
    const hostname = this.#o.hostname ?? "0.0.0.0";
    return new Promise((resolve, reject) => {
      const failed = (e: Error) => reject(e);
      this.#server.once("error", failed);
      this.#server.listen(this.#o.port, hostname, () => {
        this.#server.off("error", failed);
        this.#server.on("error", (e) => this.#log.error("proxy server error", { error: e }));
        const addr = this.#server.address();
        this.#port = typeof addr === "object" && addr ? addr.port : this.#o.port;
        this.#log.info("proxy listening", { hostname, port: this.#port, domain: this.#o.domain });
        resolve();
      });
    });
  }

  /** Stops listening, closes every client, backend and WebSocket connection. */
  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    this.#agent.destroy();
    this.#proxy.close();
    await closed;
  }

  #track(s: Duplex): void {
    this.#sockets.add(s);
    s.once("close", () => this.#sockets.delete(s));
  }

  #web(req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = this.#router.route(req.headers.host);
    switch (route.kind) {
      case "unknown":
        return this.#page(res, "", unknownHostPage(route.host, this.#o.domain));
      case "no-http":
        return this.#page(res, route.service, noHttpPortPage(route.service));
      case "unavailable":
        return this.#page(res, route.service, unavailablePage(route.service, route.reason));
      case "proxy":
        return this.#forward(req, res, route.service, route.backends);
    }
  }

  /** Sends the request to the first backend; on a refusal, to the next when that is safe. */
  #forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    service: string,
    backends: Backend[],
  ): void {
    const canRetry = IDEMPOTENT.has(req.method ?? "") && !hasBody(req);
    const original = canRetry ? FORWARDED.map((h) => req.headers[h]) : undefined;
    res.once("finish", () => this.#count(service, res.statusCode));
    let attempt = 0;
    const send = (): void => {
      const mine = attempt;
      const backend = backends[mine];
      const options: httpProxy.ServerOptions = { target: backend };
      if (mine > 0) {
        // The first attempt consumed the (empty) body stream and appended X-Forwarded-*.
        options.buffer = Readable.from([]);
        FORWARDED.forEach((h, i) => (req.headers[h] = original![i]));
      }
      this.#proxy.web(req, res, options, (err: NodeJS.ErrnoException) => {
        if (mine !== attempt) return; // a late error from an attempt already given up
        attempt++;
        const refused = REFUSED.has(err.code ?? "") && !res.headersSent;
        if (refused) this.#router.markOut(backend);
        this.#log.debug("backend failed", { service, backend: backend.key, error: err });
        if (refused && canRetry && attempt < backends.length) return send();
        sendPage(res, badGatewayPage(service, describe(err, backend)));
      });
    };
    send();
  }

  #ws(req: http.IncomingMessage, socket: Duplex, head: Uint8Array): void {
    socket.on("error", () => socket.destroy());
    const route = this.#router.route(req.headers.host);
    if (route.kind !== "proxy") {
      const page = route.kind === "unknown"
        ? unknownHostPage(route.host, this.#o.domain)
        : route.kind === "no-http"
        ? noHttpPortPage(route.service)
        : unavailablePage(route.service, route.reason);
      this.#count(route.kind === "unknown" ? "" : route.service, page.status);
      return rawPage(socket, page);
    }
    const backend = route.backends[0];
    let failed = false;
    socket.once("close", () => this.#count(route.service, failed ? 502 : 101));
    // agent: false, because an upgraded connection never goes back to a pool.
    this.#proxy.ws(req, socket, head, { target: backend, agent: false }, (err: Error) => {
      if (REFUSED.has((err as NodeJS.ErrnoException).code ?? "")) this.#router.markOut(backend);
      this.#log.debug("websocket backend failed", { service: route.service, error: err });
      failed = true;
      rawPage(socket, badGatewayPage(route.service, describe(err, backend)));
    });
  }

  #page(res: http.ServerResponse, service: string, page: Page): void {
    this.#count(service, page.status);
    sendPage(res, page);
  }

  #count(service: string, code: number): void {
    const key = `${service} ${code}`;
    let labels = this.#labels.get(key);
    if (!labels) {
      if (this.#labels.size > 10_000) this.#labels.clear();
      this.#labels.set(key, labels = { service, code: String(code) });
    }
    this.#requests.inc(labels);
  }
}

/** The hop-by-hop headers present: the fixed ones and those the Connection header names. */
function hopByHop(headers: http.IncomingHttpHeaders, fixed: string[]): string[] {
  const named = String(headers.connection ?? "").split(",").map((t) => t.trim().toLowerCase());
  return [...fixed, ...named].filter((h) => h && h !== "connection" && headers[h] !== undefined);
}

function sendPage(res: http.ServerResponse, page: Page): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(page.status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    ...page.headers,
  });
  res.end(page.html);
}

/** True when the request carries a body, which a retry could not send again. */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function describe(err: Error, backend: Backend): string {
  const code = (err as NodeJS.ErrnoException).code;
  return `${code ?? err.message} from ${backend.key}`;
}

/** Answers on a socket that has no ServerResponse (an upgrade request), then closes it. */
function rawPage(socket: Duplex, page: Page): void {
  if (!socket.writable) return void socket.destroy();
  const body = new TextEncoder().encode(page.html);
  const extra = Object.entries(page.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.end(
    `HTTP/1.1 ${page.status} ${http.STATUS_CODES[page.status]}\r\n` +
      `content-type: text/html; charset=utf-8\r\ncontent-length: ${body.length}\r\n${extra}` +
      `connection: close\r\n\r\n${page.html}`,
  );
}
