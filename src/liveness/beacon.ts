/**
 * Sends this node's heartbeat to every peer over UDP a few times a second and feeds what it
 * receives to a {@link Detector}. UDP, not the API over TCP: a lost datagram is simply the next
 * one's job, and no connection stalls behind a peer that went away.
 * @module
 */
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import type { Detector } from "./detector.ts";
import { decodeHeartbeat, encodeHeartbeat, MAX_HEARTBEAT_BYTES } from "./heartbeat.ts";

/** Where a peer's heartbeats go. */
export interface PeerAddress {
  id: string;
  hostname: string;
  port: number;
}

/** Options of a {@link Beacon}. */
export interface BeaconOptions {
  self: string;
  /** Address and port to receive on (UDP). */
  hostname: string;
  port: number;
  detector: Detector;
  /** The cluster's shared secret; nothing is sent or taken until there is one. */
  key: () => Uint8Array | undefined;
  /** Whom to send to, asked before each round. */
  peers: () => PeerAddress[];
  /** Between two rounds (default {@link HEARTBEAT_INTERVAL_MS}). */
  intervalMs?: number;
  /** Called after each round, for whoever acts on the detector's verdicts. */
  onRound?: () => void;
  log?: Logger;
}

/** Four a second: a peer that stops is missed within a quarter of a second. */
export const HEARTBEAT_INTERVAL_MS = 250;

/** A node's heartbeat sender and receiver. */
export class Beacon {
  readonly #conn: Deno.DatagramConn;
  readonly #boot = crypto.randomUUID();
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #receiving: Promise<void> | undefined;
  #closed = false;
  readonly #log: Logger;
  /** Datagrams refused, by reason: for tests and the log's once-a-minute summary. */
  readonly refused = new Map<string, number>();
  #refusedLoggedAt = -Infinity;

  /** Binds the socket at once: a port in use throws here, where the caller can say so. */
  constructor(readonly options: BeaconOptions) {
    this.#log = options.log ?? silentLogger;
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: options.hostname,
      port: options.port,
    });
  }

  /** The UDP port it receives on. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  /** Starts sending and receiving. */
  start(): void {
    this.#receiving ??= this.#receive();
    this.#timer ??= setInterval(
      () => this.#round(),
      this.options.intervalMs ?? HEARTBEAT_INTERVAL_MS,
    );
  }

  /** Stops and closes the socket. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#receiving;
  }

  #round(): void {
    const key = this.options.key();
    if (key) {
      const bytes = encodeHeartbeat({
        from: this.options.self,
        boot: this.#boot,
        seq: ++this.#seq,
        heard: this.options.detector.report(),
      }, key);
      for (const p of this.options.peers()) {
        this.#conn.send(bytes, { transport: "udp", hostname: p.hostname, port: p.port })
          .catch((err) => this.#log.debug("heartbeat not sent", { peer: p.id, err }));
      }
    }
    try {
      this.options.onRound?.();
    } catch (err) {
      this.#log.warn("acting on heartbeats failed", { err });
    }
  }

  async #receive(): Promise<void> {
    const buf = new Uint8Array(MAX_HEARTBEAT_BYTES + 1);
    while (!this.#closed) {
      let data: Uint8Array;
      try {
        [data] = await this.#conn.receive(buf);
      } catch (err) {
        if (this.#closed) return;
        this.#log.warn("heartbeat receive failed", { err });
        continue;
      }
      const key = this.options.key();
      if (!key) continue;
      const hb = decodeHeartbeat(data, key);
      if (typeof hb === "string") this.#refuse(hb);
      else this.options.detector.heard(hb);
    }
  }

  /** Counts a refused datagram; says so at most once a minute, so a flood cannot fill the log. */
  #refuse(why: string): void {
    this.refused.set(why, (this.refused.get(why) ?? 0) + 1);
    const now = performance.now();
    if (now - this.#refusedLoggedAt < 60_000) return;
    this.#refusedLoggedAt = now;
    this.#log.warn("heartbeat datagrams refused (from outside the cluster or damaged)", {
      counts: Object.fromEntries(this.refused),
    });
  }
}
