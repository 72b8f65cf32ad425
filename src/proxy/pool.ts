/**
 * Kept-alive connections to backends. An idle connection keeps a read in flight, so a backend
 * that closes it is noticed at once and the connection leaves the pool before a request could
 * be sent on it (as Go's http.Transport does).
 * @module
 */
import { Peer, type RelayBuffers, type Sweeper } from "./peer.ts";

/** Where a request goes: one replica's published port. */
export interface Target {
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

/** Opens a TCP connection; tests and the agent pass Deno.connect. */
export type Connect = (hostname: string, port: number) => Promise<Deno.Conn>;

/** The connection could not be opened in time. */
export class ConnectTimeout extends Error {}

/** What the pool needs. */
export interface PoolOptions {
  connect: Connect;
  sweeper: Sweeper;
  now: () => number;
  connectTimeoutMs: number;
  /** How long an unused connection is kept, ms. */
  idleMs: number;
  /** Most unused connections kept per backend. */
  maxIdle: number;
  bufferSize: number;
  relay: RelayBuffers;
}

/** Connections per backend, reused last-in first-out. */
export class UpstreamPool {
  readonly #o: PoolOptions;
  readonly #idle = new Map<string, Peer[]>();
  /** Every connection of the pool, busy or idle, so stop can close them. */
  readonly #all = new Set<Peer>();
  #stopped = false;

  constructor(o: PoolOptions) {
    this.#o = o;
  }

  /** Connections open now (busy and idle). */
  get size(): number {
    return this.#all.size;
  }

  /** A connection to `t`: an idle one (`reused`), else a new one. */
  async acquire(t: Target): Promise<{ peer: Peer; reused: boolean }> {
    const idle = this.#idle.get(t.key);
    while (idle?.length) {
      const p = idle.pop()!;
      if (p.closed || p.eof || p.available > 0) {
        p.close();
        continue;
      }
      p.deadline = Infinity;
      p.pooled = false;
      return { peer: p, reused: true };
    }
    if (this.#stopped) throw new Error("the proxy is stopping");
    const conn = await this.#connect(t);
    const peer = new Peer(conn, this.#o.bufferSize, this.#o.relay);
    this.#all.add(peer);
    this.#o.sweeper.add(peer);
    peer.onClose(() => {
      this.#all.delete(peer);
      this.#o.sweeper.delete(peer);
    });
    return { peer, reused: false };
  }

  async #connect(t: Target): Promise<Deno.Conn> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = this.#o.connect(t.host, t.port);
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ConnectTimeout(`no connection within ${this.#o.connectTimeoutMs} ms`)),
        this.#o.connectTimeoutMs,
      );
    });
    try {
      return await Promise.race([connecting, late]);
    } catch (err) {
      // A connection that comes after the timeout is closed, not leaked.
      connecting.then((c) => c.close(), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives a connection back after a complete exchange; closes it when the pool is full. */
  release(t: Target, p: Peer): void {
    if (this.#stopped || p.closed || p.eof || p.available > 0) return p.close();
    let idle = this.#idle.get(t.key);
    if (!idle) this.#idle.set(t.key, idle = []);
    if (idle.length >= this.#o.maxIdle) return p.close();
    p.shrink(this.#o.bufferSize);
    p.deadline = this.#o.now() + this.#o.idleMs;
    idle.push(p);
    p.pooled = true;
    // Any byte or EOF from an idle backend means the connection is done for.
    p.fill().then(() => {
      if (!p.pooled) return;
      p.pooled = false;
      p.close();
      const list = this.#idle.get(t.key);
      const i = list?.indexOf(p) ?? -1;
      if (i >= 0) list!.splice(i, 1);
      if (list?.length === 0) this.#idle.delete(t.key);
    });
  }

  /** Closes every connection. */
  stop(): void {
    this.#stopped = true;
    for (const p of this.#all) p.close();
    this.#idle.clear();
  }
}
