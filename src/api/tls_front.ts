/**
 * The API's TLS port with more than one certificate: Deno.serve takes one, so a small front
 * listens on the port, reads the name each client asks for (SNI), and passes the connection,
 * bytes untouched, to a server on loopback with the certificate for that name: the tailnet's
 * (Let's Encrypt, via tailscaled) for the node's MagicDNS name, the cluster CA's for the rest.
 * The servers see the front's loopback connection; each maps it back to the client's own
 * address, which the join desk and the login throttle rely on.
 * @module
 */
import type { Hono } from "hono";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { listenError, serveApi } from "./serve.ts";
import { readServerName } from "./sni.ts";
import { closeQuietly, splice, writeAll } from "../util/conn.ts";

/** How long a client has to send its ClientHello. */
const HELLO_TIMEOUT_MS = 10_000;
/** Most clients connected at once, and from one address: past either, a new one is closed. */
const MAX_CLIENTS = 1024;
const MAX_CLIENTS_PER_ADDRESS = 64;

/** A PEM certificate chain and its key. */
export interface TlsPair {
  cert: string;
  key: string;
}

interface Backend {
  port: number;
  stop: AbortController;
  finished: Promise<void>;
  /**
   * The client behind each of the front's connections to this server, by the front's port:
   * one map per server, since the kernel may give two connections to two servers one port.
   */
  clients: Map<number, Deno.NetAddr>;
}

/** Options of a {@link TlsFront}. */
export interface TlsFrontOptions {
  app: Hono;
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** The certificate served to every name but those given with {@link TlsFront.setNamed}. */
  fallback: TlsPair;
  signal: AbortSignal;
  log?: Logger;
}

/** One port, a certificate per name. */
export class TlsFront {
  readonly #o: TlsFrontOptions;
  readonly #log: Logger;
  #listener: Deno.Listener | undefined;
  #fallback: Backend | undefined;
  readonly #named = new Map<string, Backend>();
  /** Servers of replaced certificates, finishing what they had. */
  readonly #retired = new Set<Backend>();
  /** Connections of clients, and the front's own to the servers. */
  readonly #conns = new Set<Deno.Conn>();
  /** Clients connected, in all and by address. */
  #clientCount = 0;
  readonly #clientsOf = new Map<string, number>();
  #accepting: Promise<void> = Promise.resolve();

  constructor(o: TlsFrontOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  /** Listens; resolves with the port once it does. */
  async start(): Promise<number> {
    this.#fallback = await this.#backend(this.#o.fallback);
    try {
      this.#listener = Deno.listen({ hostname: this.#o.hostname, port: this.#o.port });
    } catch (err) {
      this.#fallback.stop.abort();
      throw listenError(err, this.#o);
    }
    this.#o.signal.addEventListener("abort", () => void this.stop(), { once: true });
    this.#accepting = this.#accept(this.#listener);
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Serves `pair` to clients that ask for `name`, from now on (a renewal replaces the old). */
  async setNamed(name: string, pair: TlsPair): Promise<void> {
    const next = await this.#backend(pair);
    const old = this.#named.get(name);
    this.#named.set(name, next);
    // Connections already passed on finish with the old certificate's server.
    if (old) this.#retire(old);
  }

  /** The names served with their own certificate. */
  names(): string[] {
    return [...this.#named.keys()];
  }

  /** Resolves when the front and its servers have stopped. */
  get finished(): Promise<void> {
    return this.#accepting.then(async () => {
      const all = [this.#fallback, ...this.#named.values(), ...this.#retired];
      await Promise.all(all.map((b) => b?.finished));
    });
  }

  /** Stops listening, ends the connections and the servers behind. */
  async stop(): Promise<void> {
    try {
      this.#listener?.close();
    } catch { /* closed already */ }
    for (const c of this.#conns) closeQuietly(c);
    for (const b of [this.#fallback, ...this.#named.values(), ...this.#retired]) b?.stop.abort();
    await this.finished;
  }

  async #backend(pair: TlsPair): Promise<Backend> {
    const stop = new AbortController();
    const onStop = () => stop.abort();
    this.#o.signal.addEventListener("abort", onStop, { once: true });
    const clients = new Map<number, Deno.NetAddr>();
    const served = await serveApi(this.#o.app, {
      hostname: "127.0.0.1",
      port: 0,
      signal: stop.signal,
      tls: pair,
      // The client behind the front's connection, which the app would see as 127.0.0.1.
      clientOf: (addr) => (addr.hostname === "127.0.0.1" && clients.get(addr.port)) || addr,
    });
    return { port: served.port, stop, finished: served.finished, clients };
  }

  #retire(b: Backend): void {
    // Long answers (followed logs) end when their server stops; give the rest a while.
    this.#retired.add(b);
    const timer = setTimeout(() => b.stop.abort(), 60_000);
    b.stop.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const from = (conn.remoteAddr as Deno.NetAddr).hostname;
      const fromThere = this.#clientsOf.get(from) ?? 0;
      if (this.#clientCount >= MAX_CLIENTS || fromThere >= MAX_CLIENTS_PER_ADDRESS) {
        closeQuietly(conn);
        continue;
      }
      this.#clientsOf.set(from, fromThere + 1);
      this.#clientCount++;
      this.#conns.add(conn);
      this.#pass(conn).catch((err) => this.#log.debug("a TLS connection ended", { err }))
        .finally(() => {
          this.#conns.delete(conn);
          closeQuietly(conn);
          this.#clientCount--;
          const left = (this.#clientsOf.get(from) ?? 1) - 1;
          if (left > 0) this.#clientsOf.set(from, left);
          else this.#clientsOf.delete(from);
        });
    }
  }

  async #pass(conn: Deno.Conn): Promise<void> {
    const { raw, name } = await readServerName(conn, AbortSignal.timeout(HELLO_TIMEOUT_MS));
    if (raw.length === 0) return;
    const backend = (name && this.#named.get(name)) || this.#fallback;
    if (!backend) return;
    const to = await Deno.connect({ hostname: "127.0.0.1", port: backend.port });
    const local = (to.localAddr as Deno.NetAddr).port;
    // Set before the server sees a byte of the request: it asks at the first request.
    backend.clients.set(local, conn.remoteAddr as Deno.NetAddr);
    this.#conns.add(to);
    try {
      await writeAll(to, raw);
      await splice(conn, to);
    } finally {
      backend.clients.delete(local);
      this.#conns.delete(to);
      closeQuietly(to);
    }
  }
}
