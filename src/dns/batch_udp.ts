/**
 * UDP for the DNS server through libc (Deno FFI), Linux only: `recvmmsg` reads up to 64
 * datagrams in one call, the answers go out with one `sendmmsg`, and one `poll` on a helper thread
 * waits for every socket at once. `Deno.listenDatagram` costs one async operation per datagram
 * each way, which on 2 cores kept the server near 0.6× dnsmasq's rate; batching removes that.
 *
 * Every buffer the kernel reads or writes is allocated once, off the V8 heap, and kept by the
 * instance until `stop`, so the pointers written into the message headers stay valid. Struct
 * layouts and constants are Linux's for 64-bit targets (x86_64 and aarch64 agree on all of them).
 * @module
 */
import type { Logger } from "../util/log.ts";
import { EDNS_UDP_MAX, ipv4Bytes } from "./wire.ts";
import { ipv6Bytes } from "../util/ip.ts";
import type { UdpAnswerer, UdpSocket, UdpTransport } from "./udp.ts";

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "u64", "i32", "buffer", "u32"], result: "i64" },
  // On a helper thread, so waiting never blocks the event loop.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const POLLIN = 1;
const POLLNVAL = 0x20;
const EINTR = 4;
const EAGAIN = 11;

/** Datagrams per `recvmmsg`/`sendmmsg`. */
const BATCH = 64;
/** Batches read from one socket before waiting again, so other work on the event loop runs. */
const ROUNDS = 4;
/** Receive slot: larger queries are cut short by the kernel (MSG_TRUNC) and dropped. */
const IN_SLOT = 4096;
/** Send slot: no UDP answer is larger (see udpLimit). */
const OUT_SLOT = EDNS_UDP_MAX;
/** Room for a sockaddr_in6 (28 bytes), rounded up. */
const NAME_SLOT = 32;
/** sizeof(struct mmsghdr) on 64-bit Linux: msghdr (56) + msg_len (4) + padding. */
const MMSG = 64;
/** sizeof(struct iovec). */
const IOVEC = 16;

/** Serves DNS over UDP with batched system calls; see the module doc. */
export class BatchUdp implements UdpTransport {
  readonly kind = "batch";
  readonly #lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  readonly #c: Libc;
  readonly #answerer: UdpAnswerer;
  readonly #log: Logger;
  readonly #errno: Deno.UnsafePointerView;
  readonly #sockets: BatchSocket[] = [];
  /** Sockets closed while `poll` may still be watching them: released once it returns. */
  readonly #retired: number[] = [];
  /** Wakes `poll` when the socket list changes or the transport stops. */
  readonly #wake: [number, number];
  readonly #buffers = new Buffers();
  #loop?: Promise<void>;
  #polling = false;
  #stopped = false;
  /** Receive errors already logged, so a persistent one is logged once, not per datagram. */
  readonly #seenErrors = new Set<number>();

  /** Loads libc; throws where FFI is not allowed or this is not 64-bit Linux. */
  constructor(answerer: UdpAnswerer, log: Logger) {
    if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
      throw new Error(`batched UDP needs 64-bit Linux, not ${Deno.build.os}/${Deno.build.arch}`);
    }
    this.#lib = Deno.dlopen("libc.so.6", SYMBOLS);
    this.#c = this.#lib.symbols;
    this.#answerer = answerer;
    this.#log = log;
    const where = this.#c.__errno_location();
    if (!where) throw new Error("libc gave no errno location");
    // errno is per thread; every call that sets it runs on this (the JS) thread.
    this.#errno = new Deno.UnsafePointerView(where);
    const fds = new Int32Array(new ArrayBuffer(8));
    if (this.#c.pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) {
      const err = osError(this.#errno.getInt32(), "pipe2");
      this.#lib.close();
      throw err;
    }
    this.#wake = [fds[0], fds[1]];
  }

  open(hostname: string, port: number): UdpSocket {
    if (this.#stopped) throw new Error("dns: UDP transport already stopped");
    const addr = sockaddr(hostname, port, (name) => this.#c.if_nametoindex(cString(name)));
    const fd = this.#c.socket(addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw osError(this.#errno.getInt32(), `${hostname}:${port}`);
    try {
      this.#check(this.#c.bind(fd, addr.bytes, addr.bytes.length), hostname, port);
      const name = new Uint8Array(new ArrayBuffer(NAME_SLOT));
      const len = new Uint32Array(new ArrayBuffer(4)).fill(NAME_SLOT);
      this.#check(this.#c.getsockname(fd, name, len), hostname, port);
      const sock = new BatchSocket(fd, (name[2] << 8) | name[3], (s) => this.#retire(s));
      this.#sockets.push(sock);
      this.#kick();
      this.#loop ??= this.#run();
      return sock;
    } catch (e) {
      this.#c.close(fd);
      throw e;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const sock of [...this.#sockets]) sock.close();
    this.#kick();
    await this.#loop;
    this.#release();
    this.#c.close(this.#wake[0]);
    this.#c.close(this.#wake[1]);
    this.#lib.close();
  }

  #check(result: number, hostname: string, port: number): void {
    if (result !== 0) throw osError(this.#errno.getInt32(), `${hostname}:${port}`);
  }

  #retire(sock: BatchSocket): void {
    const i = this.#sockets.indexOf(sock);
    if (i >= 0) this.#sockets.splice(i, 1);
    // Closing a descriptor another thread polls could hand its number to a new socket mid-poll.
    if (this.#polling) {
      this.#retired.push(sock.fd);
      this.#kick();
    } else {
      this.#c.close(sock.fd);
    }
  }

  #release(): void {
    for (const fd of this.#retired.splice(0)) this.#c.close(fd);
  }

  #kick(): void {
    this.#c.write(this.#wake[1], WAKE_BYTE, 1n);
  }

  /** Waits for any socket to be readable, serves the ready ones, and again, until stopped. */
  async #run(): Promise<void> {
    const pollfds = new PollSet();
    while (!this.#stopped) {
      const watched = pollfds.fill(this.#wake[0], this.#sockets);
      this.#polling = true;
      let ready: number;
      try {
        ready = await this.#c.poll(pollfds.bytes, BigInt(watched.length + 1), -1);
      } finally {
        this.#polling = false;
      }
      this.#release();
      try {
        if (ready < 0) throw new Error("poll failed"); // EINTR, or worse: paced below either way
        if (pollfds.events(0)) this.#drainWake();
        for (let i = 0; i < watched.length; i++) {
          const sock = watched[i];
          const events = pollfds.events(i + 1);
          if (!events || sock.closed) continue;
          if (events & POLLNVAL) {
            // Someone closed our descriptor; its number may already be another file's, so it
            // is dropped without a close, and logged, since this is a bug.
            this.#log.error("dns udp socket vanished", { fd: sock.fd, port: sock.port });
            sock.closed = true;
            this.#sockets.splice(this.#sockets.indexOf(sock), 1);
            continue;
          }
          this.#serve(sock);
        }
      } catch (e) {
        // Never let the loop die: the server would go deaf without saying so.
        this.#logOnce(-1, "loop", e);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  #drainWake(): void {
    while (this.#c.read(this.#wake[0], WAKE_SCRATCH, BigInt(WAKE_SCRATCH.length)) > 0) {
      // keep reading until the pipe is empty
    }
  }

  /** Reads what is waiting on one socket, answers it, sends the answers back through it. */
  #serve(sock: BatchSocket): void {
    const b = this.#buffers;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < BATCH; i++) b.inWords[i * 16 + 2] = NAME_SLOT; // msg_namelen
      const n = this.#c.recvmmsg(sock.fd, b.inMsgs, BATCH, MSG_DONTWAIT, null);
      if (n < 0) {
        const errno = this.#errno.getInt32();
        if (errno !== EAGAIN && errno !== EINTR) this.#logOnce(errno, "receive");
        return;
      }
      let out = 0;
      for (let i = 0; i < n; i++) {
        if (b.inWords[i * 16 + 12] & MSG_TRUNC) continue; // msg_flags: cut short, not a query
        const len = b.inWords[i * 16 + 14]; // msg_len
        const packet = b.inData.subarray(i * IN_SLOT, i * IN_SLOT + len);
        const nameLen = b.inWords[i * 16 + 2];
        const size = this.#answerer.answerInto(packet, b.outSlot(out), b.peer(i));
        if (size instanceof Promise) {
          this.#later(sock, size, b.names.slice(i * NAME_SLOT, i * NAME_SLOT + nameLen));
          continue;
        }
        if (size <= 0) continue;
        b.names.copyWithin(b.outNameAt(out), i * NAME_SLOT, i * NAME_SLOT + nameLen);
        b.outWords[out * 16 + 2] = nameLen;
        b.outIovWords[out * 4 + 2] = size; // iov_len, low half; the high half stays 0
        out++;
      }
      this.#send(sock, out);
      if (n < BATCH) return;
    }
  }

  /** Sends a forwarded answer when it comes, to the address its query came from. */
  #later(sock: BatchSocket, reply: Promise<Uint8Array | undefined>, to: Uint8Array): void {
    reply.then((bytes) => {
      // Closed: its descriptor number may already belong to another file.
      if (!bytes || sock.closed || this.#stopped) return;
      const sent = this.#c.sendto(
        sock.fd,
        bytes,
        BigInt(bytes.length),
        MSG_DONTWAIT,
        to,
        to.length,
      );
      if (sent < 0) {
        const errno = this.#errno.getInt32();
        if (errno !== EAGAIN && errno !== EINTR) this.#logOnce(errno, "send");
      }
    });
  }

  /** Sends the first `count` prepared answers, skipping one the kernel refuses. */
  #send(sock: BatchSocket, count: number): void {
    const b = this.#buffers;
    let at = 0;
    while (at < count) {
      const sent = this.#c.sendmmsg(
        sock.fd,
        b.outMsgs.subarray(at * MMSG),
        count - at,
        MSG_DONTWAIT,
      );
      if (sent > 0) {
        at += sent;
        continue;
      }
      const errno = this.#errno.getInt32();
      // A full send buffer drops the rest, as the network would; the clients ask again.
      if (errno === EAGAIN) return;
      if (errno !== EINTR) this.#logOnce(errno, "send");
      at++; // one unreachable client must not cost the others their answers
    }
  }

  #logOnce(errno: number, what: string, error?: unknown): void {
    if (this.#seenErrors.has(errno)) return;
    this.#seenErrors.add(errno);
    this.#log.warn(`dns udp ${what} failed`, { errno, error });
  }
}

const WAKE_BYTE = new Uint8Array(new ArrayBuffer(1));
const WAKE_SCRATCH = new Uint8Array(new ArrayBuffer(64));

class BatchSocket implements UdpSocket {
  closed = false;

  constructor(
    readonly fd: number,
    readonly port: number,
    readonly onClose: (s: BatchSocket) => void,
  ) {}

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }
}

/** The `struct pollfd` array handed to `poll`: the wake pipe first, then each socket. */
class PollSet {
  bytes = new Uint8Array(new ArrayBuffer(8));
  #view = new DataView(this.bytes.buffer);

  /** Lays out the wake pipe and `sockets`; returns the sockets in the order they were laid out. */
  fill(wake: number, sockets: readonly BatchSocket[]): BatchSocket[] {
    const count = sockets.length + 1;
    if (this.bytes.length < count * 8) {
      this.bytes = new Uint8Array(new ArrayBuffer(count * 16));
      this.#view = new DataView(this.bytes.buffer);
    }
    const fds = [wake, ...sockets.map((s) => s.fd)];
    for (let i = 0; i < count; i++) {
      this.#view.setInt32(i * 8, fds[i], true);
      this.#view.setInt16(i * 8 + 4, POLLIN, true);
      this.#view.setInt16(i * 8 + 6, 0, true);
    }
    return [...sockets];
  }

  /** What `poll` reported for entry `i`: readable, or an error the next read reports. */
  events(i: number): number {
    return this.#view.getInt16(i * 8 + 6, true);
  }
}

/**
 * The message headers, I/O vectors, datagram slots and address slots for one batch each way,
 * with every pointer written once. Answers reuse the address slot their query came with.
 */
class Buffers {
  readonly inData = new Uint8Array(new ArrayBuffer(BATCH * IN_SLOT));
  readonly outData = new Uint8Array(new ArrayBuffer(BATCH * OUT_SLOT));
  /** Query addresses in the first half, answer addresses in the second. */
  readonly names = new Uint8Array(new ArrayBuffer(2 * BATCH * NAME_SLOT));
  readonly inMsgs = new Uint8Array(new ArrayBuffer(BATCH * MMSG));
  readonly outMsgs = new Uint8Array(new ArrayBuffer(BATCH * MMSG));
  readonly inIov = new Uint8Array(new ArrayBuffer(BATCH * IOVEC));
  readonly outIov = new Uint8Array(new ArrayBuffer(BATCH * IOVEC));
  /** 32-bit views for the fields written per datagram: lengths and flags. */
  readonly inWords = new Uint32Array(this.inMsgs.buffer);
  readonly outWords = new Uint32Array(this.outMsgs.buffer);
  readonly outIovWords = new Uint32Array(this.outIov.buffer);
  /** Each query slot's client address bytes, IPv4 and IPv6, made once. */
  readonly #peers4: Uint8Array[] = [];
  readonly #peers6: Uint8Array[] = [];

  constructor() {
    const inMsgs = new DataView(this.inMsgs.buffer);
    const outMsgs = new DataView(this.outMsgs.buffer);
    const inIov = new DataView(this.inIov.buffer);
    const outIov = new DataView(this.outIov.buffer);
    for (let i = 0; i < BATCH; i++) {
      this.#peers4.push(this.names.subarray(i * NAME_SLOT + 4, i * NAME_SLOT + 8));
      this.#peers6.push(this.names.subarray(i * NAME_SLOT + 8, i * NAME_SLOT + 24));
      inIov.setBigUint64(i * IOVEC, address(this.inData, i * IN_SLOT), true);
      inIov.setBigUint64(i * IOVEC + 8, BigInt(IN_SLOT), true);
      outIov.setBigUint64(i * IOVEC, address(this.outData, i * OUT_SLOT), true);
      // struct msghdr: name, namelen, iov, iovlen, control, controllen, flags.
      inMsgs.setBigUint64(i * MMSG, address(this.names, i * NAME_SLOT), true);
      inMsgs.setBigUint64(i * MMSG + 16, address(this.inIov, i * IOVEC), true);
      inMsgs.setBigUint64(i * MMSG + 24, 1n, true);
      outMsgs.setBigUint64(i * MMSG, address(this.names, this.outNameAt(i)), true);
      outMsgs.setBigUint64(i * MMSG + 16, address(this.outIov, i * IOVEC), true);
      outMsgs.setBigUint64(i * MMSG + 24, 1n, true);
    }
  }

  /** The address bytes of query `i`'s sender: sin_addr, or sin6_addr, by sa_family. */
  peer(i: number): Uint8Array {
    return this.names[i * NAME_SLOT] === AF_INET ? this.#peers4[i] : this.#peers6[i];
  }

  outSlot(i: number): Uint8Array {
    return this.outData.subarray(i * OUT_SLOT, (i + 1) * OUT_SLOT);
  }

  outNameAt(i: number): number {
    return (BATCH + i) * NAME_SLOT;
  }
}

/** The address of byte `offset` of `buf`, as a header field holds it. */
function address(buf: Uint8Array, offset: number): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf))) + BigInt(offset);
}

function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** A `struct sockaddr_in` or `sockaddr_in6` for an IP literal; IPv6 may carry `%scope`. */
export function sockaddr(
  hostname: string,
  port: number,
  scopeIndex: (name: string) => number,
): { family: number; bytes: Uint8Array } {
  const v4 = ipv4Bytes(hostname);
  if (v4) {
    const bytes = new Uint8Array(new ArrayBuffer(16));
    bytes.set([AF_INET & 0xff, AF_INET >> 8, port >> 8, port & 0xff, ...v4]);
    return { family: AF_INET, bytes };
  }
  const [text, scope] = hostname.split("%", 2);
  const v6 = ipv6Bytes(text);
  if (!v6) throw new Error(`dns: cannot listen on "${hostname}": not an IP address`);
  let scopeId = 0;
  if (scope !== undefined) {
    scopeId = /^\d+$/.test(scope) ? Number(scope) : scopeIndex(scope);
    if (!scopeId) throw new Error(`dns: cannot listen on "${hostname}": no interface "${scope}"`);
  }
  const bytes = new Uint8Array(new ArrayBuffer(28));
  bytes.set([AF_INET6 & 0xff, AF_INET6 >> 8, port >> 8, port & 0xff]);
  bytes.set(v6, 8);
  new DataView(bytes.buffer).setUint32(24, scopeId, true);
  return { family: AF_INET6, bytes };
}

/** errno as the error `Deno.listenDatagram` would have thrown, so callers handle both alike. */
export function osError(errno: number, where: string): Error {
  const known: Record<number, [new (m: string) => Error, string]> = {
    13: [Deno.errors.PermissionDenied, "Permission denied"],
    22: [TypeError, "Invalid argument"],
    97: [Deno.errors.AddrNotAvailable, "Address family not supported by protocol"],
    98: [Deno.errors.AddrInUse, "Address already in use"],
    99: [Deno.errors.AddrNotAvailable, "Cannot assign requested address"],
  };
  const [Kind, text] = known[errno] ?? [Error, "system error"];
  return new Kind(`${text} (os error ${errno}) on ${where}`);
}
