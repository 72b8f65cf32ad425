/**
 * UDP between a stack's services. The node listens on a service's virtual address and UDP port
 * and passes each client's datagrams (a client is an address and port) to one ready replica for
 * as long as the client keeps talking, as the kernel's conntrack does: on this node straight to
 * its container, on another through that node's tunnel, where each datagram travels framed by
 * its 2-byte length. Replies come back from the address and port the client sent to. A session
 * ends after `idleMs` without a datagram either way, or when its replica stops being ready (the
 * next datagram picks a live one); past `maxSessions` on one port the least recently used goes
 * first, so a flood of clients costs a bounded number of sockets.
 * @module
 */
import { closeQuietly, writeAll } from "../util/conn.ts";
import { type Logger, silentLogger } from "../util/log.ts";

/** Largest UDP payload over IPv4. */
export const MAX_DATAGRAM = 65507;

/** Where one client's datagrams go: a replica's socket here, or a tunnel. */
export interface Channel {
  send(data: Uint8Array): Promise<void>;
  /** The replica's answers, until the channel closes. */
  replies(): AsyncIterable<Uint8Array>;
  close(): void;
}

/** Writes one datagram as a frame: its length in 2 bytes, then the bytes. */
export async function writeFrame(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  if (data.length > MAX_DATAGRAM) throw new RangeError(`a datagram of ${data.length} bytes`);
  const frame = new Uint8Array(2 + data.length);
  frame[0] = data.length >> 8;
  frame[1] = data.length & 0xff;
  frame.set(data, 2);
  await writeAll(conn, frame);
}

/**
 * The datagrams framed on `conn` (after `rest`, bytes already read), until it ends; a frame cut
 * off by the end is dropped. Never holds more than one frame and one read.
 */
export async function* readFrames(
  conn: Deno.Conn,
  rest: Uint8Array = new Uint8Array(),
): AsyncGenerator<Uint8Array> {
  let pending = rest;
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    while (pending.length >= 2) {
      const size = (pending[0] << 8) | pending[1];
      if (pending.length < 2 + size) break;
      yield pending.slice(2, 2 + size);
      pending = pending.subarray(2 + size);
    }
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) return;
    const next = new Uint8Array(pending.length + n);
    next.set(pending);
    next.set(chunk.subarray(0, n), pending.length);
    pending = next;
  }
}

/** A channel to a container's UDP port on this node, from a socket of its own. */
export function localChannel(hostname: string, port: number): Channel {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const to: Deno.NetAddr = { transport: "udp", hostname, port };
  return {
    send: async (data) => void await sock.send(data, to),
    async *replies() {
      for (;;) {
        let got: [Uint8Array, Deno.Addr];
        try {
          got = await sock.receive();
        } catch {
          return;
        }
        const from = got[1] as Deno.NetAddr;
        // Only the replica answers: anything else sent to this port is dropped.
        if (from.hostname === hostname && from.port === port) yield got[0];
      }
    },
    close: () => closeQuietly(sock),
  };
}

/** A channel through a tunnel connection that said OK to a UDP request. */
export function tunnelChannel(conn: Deno.Conn, rest: Uint8Array): Channel {
  return {
    send: (data) => writeFrame(conn, data),
    replies: () => readFrames(conn, rest),
    close: () => closeQuietly(conn),
  };
}

/**
 * The tunnel's side of a UDP request: frames from `conn` go to the container's port, its
 * answers come back framed, until either side ends or `idleMs` pass without a datagram.
 */
export async function relayFrames(
  conn: Deno.Conn,
  rest: Uint8Array,
  container: string,
  port: number,
  idleMs = 60_000,
): Promise<void> {
  const channel = localChannel(container, port);
  let last = Date.now();
  const idle = setInterval(() => {
    if (Date.now() - last >= idleMs) closeQuietly(conn);
  }, Math.min(idleMs, 5_000));
  try {
    const back = (async () => {
      for await (const data of channel.replies()) {
        last = Date.now();
        await writeFrame(conn, data);
      }
    })().catch(() => {});
    for await (const data of readFrames(conn, rest)) {
      last = Date.now();
      await channel.send(data).catch(() => {});
    }
    channel.close();
    await back;
  } finally {
    clearInterval(idle);
    channel.close();
    closeQuietly(conn);
  }
}

/** What the UDP side of the mesh needs from it. */
export interface DatagramMeshOptions {
  /** The stack whose network `source` is on, if any. */
  stackOf: (source: string) => string | undefined;
  /** A channel to a ready replica of `service` for `port`, and which replica; or undefined. */
  open: (service: string, port: number) => Promise<{ channel: Channel; key: string } | undefined>;
  /** Whether the replica `key` of `service` is still ready. */
  ready: (service: string, port: number, key: string) => boolean;
  log?: Logger;
  now?: () => number;
  /** A session without a datagram either way for this long ends, ms; default 60 000. */
  idleMs?: number;
  /** Most client sessions on one address and port; default 1024. */
  maxSessions?: number;
}

interface Session {
  service: string;
  key: string;
  channel: Promise<{ channel: Channel; key: string } | undefined>;
  lastAt: number;
  checkedAt: number;
  /** The datagrams being passed on, one after another, and how many. */
  sending: Promise<void>;
  queued: number;
}

/** Datagrams of one client waiting to be passed on; more are dropped. */
const MAX_QUEUED = 256;

interface Listening {
  sock: Deno.DatagramConn;
  /** Stack -> service of that stack at this address and port. */
  services: Map<string, string>;
  sessions: Map<string, Session>;
  loop: Promise<void>;
}

/** The UDP listeners of a node's stack mesh; see the module's documentation. */
export class DatagramMesh {
  readonly #o: DatagramMeshOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #listeners = new Map<string, Listening>();
  readonly #failed = new Map<string, string>();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(o: DatagramMeshOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
  }

  /** The listeners open now, `address:port/udp`, sorted. */
  listening(): string[] {
    return [...this.#listeners.keys()].map((k) => `${k}/udp`).sort();
  }

  /** Opens and closes listeners to match `wanted` (`address:port` -> stack -> service). */
  sync(wanted: Map<string, Map<string, string>>): void {
    for (const key of [...this.#listeners.keys()]) if (!wanted.has(key)) this.#close(key);
    for (const [key, services] of wanted) {
      const l = this.#listeners.get(key);
      if (l) l.services = services;
      else this.#open(key, services);
    }
    if (this.#listeners.size > 0 && this.#sweeper === undefined) {
      const every = Math.min(this.#o.idleMs ?? 60_000, 5_000);
      this.#sweeper = setInterval(() => this.#sweep(), every);
    } else if (this.#listeners.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** Closes every listener and session. */
  async stop(): Promise<void> {
    const loops = [...this.#listeners.values()].map((l) => l.loop);
    this.sync(new Map());
    await Promise.all(loops);
  }

  #open(key: string, services: Map<string, string>): void {
    const colon = key.lastIndexOf(":");
    const hostname = key.slice(0, colon);
    const port = Number(key.slice(colon + 1));
    let sock: Deno.DatagramConn;
    try {
      sock = Deno.listenDatagram({ transport: "udp", hostname, port });
    } catch (err) {
      const reason = (err as Error).message;
      if (this.#failed.get(key) !== reason) {
        this.#log.warn("cannot listen for a stack's UDP service", { at: key, err });
      }
      this.#failed.set(key, reason);
      return;
    }
    this.#failed.delete(key);
    const entry: Listening = { sock, services, sessions: new Map(), loop: Promise.resolve() };
    entry.loop = this.#receive(key, port, entry);
    this.#listeners.set(key, entry);
  }

  #close(key: string): void {
    const l = this.#listeners.get(key);
    if (!l) return;
    this.#listeners.delete(key);
    closeQuietly(l.sock);
    for (const client of [...l.sessions.keys()]) this.#end(l, client);
  }

  async #receive(key: string, port: number, entry: Listening): Promise<void> {
    for (;;) {
      let data: Uint8Array, from: Deno.NetAddr;
      try {
        const got = await entry.sock.receive();
        data = got[0];
        from = got[1] as Deno.NetAddr;
      } catch {
        if (this.#listeners.get(key) === entry) this.#close(key);
        return;
      }
      const stack = this.#o.stackOf(from.hostname);
      const service = stack === undefined ? undefined : entry.services.get(stack);
      // Not from a container of a stack that has this service: as if nothing listened.
      if (!service) continue;
      const client = `${from.hostname}:${from.port}`;
      const session = this.#session(entry, client, from, service, port);
      session.lastAt = this.#now();
      // One at a time, in order (frames on a tunnel must not interleave); a client that sends
      // faster than the replica's path takes loses datagrams, as on a full link.
      if (session.queued >= MAX_QUEUED) continue;
      session.queued++;
      session.sending = session.sending
        .then(() => session.channel)
        .then((c) => c?.channel.send(data))
        .catch((err) => this.#log.debug("a stack's datagram was not passed on", { service, err }))
        .finally(() => session.queued--);
    }
  }

  /** The client's session, made (and its replies relayed) on its first datagram. */
  #session(
    entry: Listening,
    client: string,
    from: Deno.NetAddr,
    service: string,
    port: number,
  ): Session {
    const now = this.#now();
    let s = entry.sessions.get(client);
    if (s && s.service === service && now - s.checkedAt >= 1_000) {
      s.checkedAt = now;
      if (s.key && !this.#o.ready(service, port, s.key)) this.#end(entry, client);
    }
    s = entry.sessions.get(client);
    if (s && s.service === service) {
      // Most recently used last, so the first is the one to drop when full.
      entry.sessions.delete(client);
      entry.sessions.set(client, s);
      return s;
    }
    if (s) this.#end(entry, client);
    if (entry.sessions.size >= (this.#o.maxSessions ?? 1024)) {
      this.#end(entry, entry.sessions.keys().next().value!);
    }
    const made: Session = {
      service,
      key: "",
      channel: this.#o.open(service, port).catch(() => undefined),
      lastAt: now,
      checkedAt: now,
      sending: Promise.resolve(),
      queued: 0,
    };
    entry.sessions.set(client, made);
    void made.channel.then(async (c) => {
      if (!c) return void entry.sessions.delete(client);
      made.key = c.key;
      for await (const reply of c.channel.replies()) {
        made.lastAt = this.#now();
        await entry.sock.send(reply, from);
      }
    }).catch(() => {}).finally(() => {
      if (entry.sessions.get(client) === made) entry.sessions.delete(client);
    });
    return made;
  }

  #end(entry: Listening, client: string): void {
    const s = entry.sessions.get(client);
    if (!s) return;
    entry.sessions.delete(client);
    void s.channel.then((c) => c?.channel.close());
  }

  #sweep(): void {
    const idle = this.#o.idleMs ?? 60_000;
    const now = this.#now();
    for (const entry of this.#listeners.values()) {
      for (const [client, s] of [...entry.sessions]) {
        if (now - s.lastAt >= idle) this.#end(entry, client);
      }
    }
  }
}
