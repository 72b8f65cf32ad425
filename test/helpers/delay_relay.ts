/**
 * A TCP relay that holds every chunk for a set time in each direction, so a connection through
 * it has `2 × delayMs` more round trip: latency without netem, which this machine's kernel lacks.
 * Chunks leave in the order they came; a direction with `maxQueuedBytes` in flight stops reading
 * until its writer catches up (backpressure, so a fast sender cannot fill memory); an end of
 * stream is passed on after the same delay as a half-close, and the connection is closed once
 * both directions ended or either failed.
 *
 * {@link UdpDelayRelay} does the same for datagrams one way (the nodes' heartbeats): each is
 * sent on after the delay, from the relay's own socket, and nothing comes back through it.
 *
 * In a test: `await using relay = DelayRelay.start({ port: 0, target, delayMs: 50 })`.
 * As a program, for a network namespace the test process is not in (the hosts harness):
 * `deno run -A test/helpers/delay_relay.ts --delay MS --map PORT=HOST:PORT ...
 * [--udp-map PORT=HOST:PORT ...]` listens on 0.0.0.0:PORT for each map, prints `ready` once all
 * listen, and ends on SIGTERM or SIGINT.
 * @module
 */
import { closeQuietly, writeAll } from "../../src/util/conn.ts";

/** Where a relay sends what it receives. */
export interface RelayTarget {
  hostname: string;
  port: number;
}

/** Options of {@link DelayRelay.start}. */
export interface DelayRelayOptions {
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  target: RelayTarget;
  /** How long each chunk is held, ms, in each direction. */
  delayMs: number;
  /** Bytes a direction may hold before it stops reading (default 1 MiB). */
  maxQueuedBytes?: number;
}

const CHUNK = 64 * 1024;

/** A listening relay; see the module's documentation. */
export class DelayRelay implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #connections = new Set<Connection>();
  readonly #accepting: Promise<void>;
  #closed = false;
  /** The most bytes one direction of one connection held at once, for tests. */
  maxQueued = 0;

  private constructor(readonly options: DelayRelayOptions) {
    if (!(options.delayMs >= 0)) {
      throw new RangeError(`DelayRelay: delayMs ${options.delayMs}: give a number of ms ≥ 0`);
    }
    this.#listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: options.port });
    this.#accepting = this.#accept();
  }

  /** Listens at once; connections are relayed until {@link close}. */
  static start(options: DelayRelayOptions): DelayRelay {
    return new DelayRelay(options);
  }

  /** The port it listens on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  async #accept(): Promise<void> {
    try {
      for await (const inbound of this.#listener) {
        const c = new Connection(inbound, this.options, (n) => {
          this.maxQueued = Math.max(this.maxQueued, n);
        });
        this.#connections.add(c);
        c.done.finally(() => this.#connections.delete(c));
      }
    } catch (err) {
      if (!this.#closed) throw err;
    }
  }

  /** Stops listening and ends every connection; resolves once all is closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* closed */ }
    await this.#accepting.catch(() => {});
    const open = [...this.#connections];
    for (const c of open) c.abort();
    await Promise.all(open.map((c) => c.done));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A one-way UDP relay that holds every datagram `delayMs`; see the module's documentation. */
export class UdpDelayRelay implements AsyncDisposable {
  readonly #conn: Deno.DatagramConn;
  readonly #receiving: Promise<void>;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  private constructor(readonly options: DelayRelayOptions) {
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
    });
    this.#receiving = this.#receive();
  }

  /** Listens at once; datagrams are relayed until {@link close}. */
  static start(options: DelayRelayOptions): UdpDelayRelay {
    return new UdpDelayRelay(options);
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  async #receive(): Promise<void> {
    const to = { transport: "udp" as const, ...this.options.target };
    while (!this.#closed) {
      let data: Uint8Array;
      try {
        [data] = await this.#conn.receive();
      } catch {
        if (this.#closed) return;
        continue;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#conn.send(data, to).catch(() => {});
      }, this.options.delayMs);
      this.#timers.add(timer);
    }
  }

  /** Stops; datagrams still held are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    try {
      this.#conn.close();
    } catch { /* closed */ }
    await this.#receiving;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Listeners woken together; each wakes once. */
class Bell {
  readonly #listeners = new Set<() => void>();
  on(f: () => void): void {
    this.#listeners.add(f);
  }
  off(f: () => void): void {
    this.#listeners.delete(f);
  }
  ring(): void {
    const all = [...this.#listeners];
    this.#listeners.clear();
    for (const f of all) f();
  }
}

/** One relayed connection: two delayed directions. */
class Connection {
  readonly done: Promise<void>;
  #outbound: Deno.TcpConn | undefined;
  #aborted = false;
  readonly #abort = new Bell();

  constructor(
    readonly inbound: Deno.Conn,
    readonly o: DelayRelayOptions,
    readonly onQueued: (bytes: number) => void,
  ) {
    this.done = this.#run();
  }

  /** Ends the connection now, both ways. */
  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abort.ring();
    closeQuietly(this.inbound);
    if (this.#outbound) closeQuietly(this.#outbound);
  }

  async #run(): Promise<void> {
    try {
      this.#outbound = await Deno.connect(this.o.target);
    } catch {
      closeQuietly(this.inbound);
      return;
    }
    if (this.#aborted) return void closeQuietly(this.#outbound);
    const out = this.#outbound;
    await Promise.all([this.#direction(this.inbound, out), this.#direction(out, this.inbound)]);
    closeQuietly(this.inbound);
    closeQuietly(out);
  }

  /** Moves `from`'s bytes to `to`, each chunk `delayMs` after it was read; never throws. */
  async #direction(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const queue: { data: Uint8Array | null; due: number }[] = [];
    let queued = 0;
    const data = new Bell();
    const space = new Bell();
    const limit = this.o.maxQueuedBytes ?? 1024 * 1024;
    const reader = async () => {
      for (;;) {
        while (queued >= limit && !this.#aborted) await this.#pause(space);
        if (this.#aborted) return;
        const buf = new Uint8Array(CHUNK);
        const n = await from.read(buf);
        queue.push({
          data: n === null ? null : buf.subarray(0, n),
          due: performance.now() + this.o.delayMs,
        });
        if (n !== null) this.onQueued(queued += n);
        data.ring();
        if (n === null) return;
      }
    };
    const writer = async () => {
      for (;;) {
        while (queue.length === 0 && !this.#aborted) await this.#pause(data);
        if (this.#aborted) return;
        const item = queue[0];
        const wait = item.due - performance.now();
        if (wait > 0) await this.#pause(undefined, wait);
        if (this.#aborted) return;
        queue.shift();
        if (item.data === null) return await to.closeWrite().catch(() => {});
        await writeAll(to, item.data);
        queued -= item.data.length;
        space.ring();
      }
    };
    // A reset or a failed write ends the connection both ways at once: the other side's read
    // would otherwise wait for bytes that are not coming.
    const fail = () => this.abort();
    await Promise.all([reader().catch(fail), writer().catch(fail)]);
  }

  /** Waits for `bell`, `ms` to pass, or the connection's end, whichever comes first. */
  #pause(bell: Bell | undefined, ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        bell?.off(done);
        this.#abort.off(done);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      bell?.on(done);
      this.#abort.on(done);
    });
  }
}

/** `PORT=HOST:PORT` of the command line. */
export function parseMap(text: string): { port: number; target: RelayTarget } {
  const m = /^(\d+)=([^:]+|\[[^\]]+\]):(\d+)$/.exec(text);
  if (!m) throw new Error(`--map ${text}: give LISTEN_PORT=HOST:PORT, e.g. 42380=127.0.0.1:2380`);
  return { port: Number(m[1]), target: { hostname: m[2], port: Number(m[3]) } };
}

function main(args: string[]): void {
  let delayMs = NaN;
  const maps: { port: number; target: RelayTarget }[] = [];
  const udpMaps: { port: number; target: RelayTarget }[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--delay") delayMs = Number(args[++i]);
    else if (args[i] === "--map") maps.push(parseMap(args[++i] ?? ""));
    else if (args[i] === "--udp-map") udpMaps.push(parseMap(args[++i] ?? ""));
    else throw new Error(`unknown argument ${args[i]}`);
  }
  if (!(delayMs >= 0) || maps.length + udpMaps.length === 0) {
    throw new Error(
      "usage: delay_relay.ts --delay MS --map PORT=HOST:PORT [--map ...] [--udp-map PORT=HOST:PORT ...]",
    );
  }
  const relays: { close(): Promise<void> }[] = [
    ...maps.map((m) =>
      DelayRelay.start({ hostname: "0.0.0.0", port: m.port, target: m.target, delayMs })
    ),
    ...udpMaps.map((m) =>
      UdpDelayRelay.start({ hostname: "0.0.0.0", port: m.port, target: m.target, delayMs })
    ),
  ];
  const stop = async () => {
    await Promise.all(relays.map((r) => r.close()));
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log("ready");
}

if (import.meta.main) {
  try {
    main(Deno.args);
  } catch (err) {
    console.error(`delay_relay: ${(err as Error).message}`);
    Deno.exit(2);
  }
}
