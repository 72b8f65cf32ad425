/**
 * UDP sockets for the DNS server, one per local address, behind one small interface with two
 * implementations: {@link BatchUdp} (Linux, libc through FFI: many datagrams per system call) and
 * {@link DenoUdp} (`Deno.listenDatagram`, anywhere). Both answer on the socket a query came in
 * on, so the reply leaves from the address that was asked.
 * @module
 */
import { ipv6Bytes } from "../util/ip.ts";
import type { Logger } from "../util/log.ts";
import type { Answered } from "./answer.ts";
import { BatchUdp } from "./batch_udp.ts";
import { ipv4Bytes } from "./wire.ts";

/**
 * What the sockets need from the server: an answer for each datagram from a client at `peer`
 * (its 4 or 16 address bytes), now or later (a forwarded name).
 */
export interface UdpAnswerer {
  /** The reply to `packet`, or undefined to send nothing. Never throws. */
  answer(packet: Uint8Array, udp: boolean, peer: Uint8Array): Answered;
  /**
   * Writes the reply to `packet` into `out`; returns its length, 0 to send nothing, or a promise
   * of the reply to send later. Never throws.
   */
  answerInto(
    packet: Uint8Array,
    out: Uint8Array,
    peer: Uint8Array,
  ): number | Promise<Uint8Array | undefined>;
}

/** The address bytes of a socket address's host, for {@link UdpAnswerer}; empty if unreadable. */
export function peerBytes(addr: Deno.Addr): Uint8Array {
  const host = (addr as Deno.NetAddr).hostname ?? "";
  return ipv4Bytes(host) ?? ipv6Bytes(host.split("%")[0]) ?? new Uint8Array(0);
}

/** One bound socket. */
export interface UdpSocket {
  /** The port it is bound to (the one picked when 0 was asked). */
  readonly port: number;
  /** Stops serving and releases the address; closing twice is harmless. */
  close(): void;
}

/** Opens sockets that serve until closed. */
export interface UdpTransport {
  /** `"batch"` or `"deno"`, for logs and tests. */
  readonly kind: UdpKind;
  /**
   * Binds `hostname` (an IP literal; IPv6 link-local with `%scope`) and starts serving it.
   * Throws Deno's errors (`AddrInUse`, `AddrNotAvailable`, `PermissionDenied`…) when it cannot.
   */
  open(hostname: string, port: number): UdpSocket;
  /** Closes every socket and waits until nothing is running. */
  stop(): Promise<void>;
}

/** Which UDP implementation: "auto" takes the batching one where it can be loaded. */
export type UdpKind = "batch" | "deno";

/**
 * The fastest transport this process can use: {@link BatchUdp} when libc can be loaded (Linux,
 * `--allow-ffi`), else {@link DenoUdp}. `prefer` forces one; "batch" fails when unavailable.
 */
export function createUdpTransport(
  answerer: UdpAnswerer,
  log: Logger,
  prefer: UdpKind | "auto" = "auto",
): UdpTransport {
  if (prefer === "deno") return new DenoUdp(answerer, log);
  try {
    return new BatchUdp(answerer, log);
  } catch (e) {
    if (prefer === "batch") throw e;
    log.info("dns: batched UDP unavailable, using Deno's sockets", { reason: String(e) });
    return new DenoUdp(answerer, log);
  }
}

/** Receives kept in flight on each socket; measured best on 2 cores with dnsperf. */
const DENO_RECEIVERS = 4;

/** Largest datagram read; a UDP DNS query is far smaller. */
const MAX_DATAGRAM = 65535;

/** UDP through `Deno.listenDatagram`: one receive-answer-send round trip per datagram. */
export class DenoUdp implements UdpTransport {
  readonly kind = "deno";
  readonly #answerer: UdpAnswerer;
  readonly #log: Logger;
  readonly #open = new Set<DenoSocket>();
  readonly #loops = new Set<Promise<void>>();

  constructor(answerer: UdpAnswerer, log: Logger) {
    this.#answerer = answerer;
    this.#log = log;
  }

  open(hostname: string, port: number): UdpSocket {
    const conn = Deno.listenDatagram({ transport: "udp", hostname, port });
    const sock = new DenoSocket(conn, () => this.#open.delete(sock));
    this.#open.add(sock);
    // Several receives in flight, so a packet is already being read while one is answered.
    for (let i = 0; i < DENO_RECEIVERS; i++) {
      const loop = this.#serve(sock).finally(() => this.#loops.delete(loop));
      this.#loops.add(loop);
    }
    return sock;
  }

  async stop(): Promise<void> {
    for (const sock of [...this.#open]) sock.close();
    await Promise.all([...this.#loops]);
  }

  async #serve(sock: DenoSocket): Promise<void> {
    const buf = new Uint8Array(MAX_DATAGRAM);
    while (!sock.closed) {
      let packet: Uint8Array;
      let from: Deno.Addr;
      try {
        [packet, from] = await sock.conn.receive(buf);
      } catch (e) {
        if (sock.closed) return;
        this.#log.warn("dns udp receive failed", { error: e });
        continue;
      }
      const reply = this.#answerer.answer(packet, true, peerBytes(from));
      const send = (reply: Uint8Array | undefined) => {
        if (!reply || sock.closed) return;
        sock.conn.send(reply, from).catch((e) => {
          if (!sock.closed) this.#log.debug("dns udp send failed", { error: e });
        });
      };
      if (reply instanceof Promise) reply.then(send);
      else send(reply);
    }
  }
}

class DenoSocket implements UdpSocket {
  closed = false;
  readonly port: number;

  constructor(readonly conn: Deno.DatagramConn, readonly onClose: () => void) {
    this.port = (conn.addr as Deno.NetAddr).port;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
