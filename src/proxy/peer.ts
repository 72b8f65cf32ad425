/**
 * One end of a proxied connection: a socket with a read buffer, one read in flight at most, and a
 * deadline that a single sweeper enforces by closing the socket. A per-read timer would cost a
 * timer per request; a deadline field costs an assignment.
 * @module
 */
import { closeQuietly, writeAll } from "../util/conn.ts";

/** Thrown by {@link Peer.readHead} when a head does not fit. */
export class HeadTooLarge extends Error {}

/**
 * The big buffers bodies are relayed through. Few large reads cost far less CPU than many small
 * ones (a 256 KiB buffer moved a download with 40% less CPU than a 64 KiB one), but a crowd of
 * slow uploads could then hold a Pi's memory: the bytes lent out are bounded, and past the bound
 * a relay keeps its small buffer (slower, never refused). Returned buffers are reused rather than
 * collected, since they are what memory is made of.
 */
export class RelayBuffers {
  #lent = 0;
  readonly #spare: Uint8Array[] = [];

  constructor(readonly size: number, readonly budget: number) {}

  /** Bytes lent out now. */
  get lent(): number {
    return this.#lent;
  }

  /** A big buffer, or undefined when the budget is spent. */
  take(): Uint8Array | undefined {
    if (this.#lent + this.size > this.budget) return undefined;
    this.#lent += this.size;
    return this.#spare.pop() ?? new Uint8Array(this.size);
  }

  /** Takes back a buffer; `reuse` only when no read can still write into it. */
  give(buf: Uint8Array, reuse: boolean): void {
    this.#lent -= buf.length;
    if (reuse && this.#spare.length * this.size < this.budget / 8) this.#spare.push(buf);
  }
}

/** A buffered socket. */
export class Peer {
  /** Unread bytes are `buf[start, end)`. */
  buf: Uint8Array;
  start = 0;
  end = 0;
  /** Time (ms, the sweeper's clock) after which the sweeper closes this peer; Infinity: never. */
  deadline = Infinity;
  /** Set by the sweeper when the deadline closed it, so the waiting side can answer 504. */
  timedOut = false;
  /** The socket gave EOF or failed; nothing more will be read. */
  eof = false;
  closed = false;
  /** Bytes read from the socket, for reading progress into deadlines. */
  received = 0;
  /** While waiting for a request head: when it began, as the proxy counts; 0 otherwise. */
  waitingSince = 0;
  /** Sitting idle in a pool of backend connections. */
  pooled = false;
  #reading: Promise<boolean> | undefined;
  #onClose: (() => void) | undefined;
  /** `buf` was lent by `relay`. */
  #big = false;

  constructor(readonly conn: Deno.Conn, size: number, readonly relay: RelayBuffers) {
    this.buf = new Uint8Array(size);
  }

  /** Unread bytes. */
  get available(): number {
    return this.end - this.start;
  }

  /** The unread bytes, as a view (valid until the next fill). */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Marks `n` unread bytes as used. */
  consume(n: number): void {
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** True while a read is in flight. */
  get reading(): boolean {
    return this.#reading !== undefined;
  }

  /**
   * Reads more bytes into the buffer; false on EOF, error or a full buffer. Only one read is in
   * flight: a second caller gets the same promise.
   */
  fill(): Promise<boolean> {
    if (this.#reading) return this.#reading;
    if (this.eof || this.closed) return Promise.resolve(false);
    if (this.end === this.buf.length) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else return Promise.resolve(false);
    }
    const p = this.#read();
    this.#reading = p;
    return p;
  }

  async #read(): Promise<boolean> {
    try {
      const n = await this.conn.read(this.buf.subarray(this.end));
      if (n === null) {
        this.eof = true;
        return false;
      }
      this.end += n;
      this.received += n;
      return true;
    } catch {
      this.eof = true;
      return false;
    } finally {
      this.#reading = undefined;
    }
  }

  /** Switches to a big buffer for a body relay (when no read is in flight and one is free). */
  grow(): void {
    if (this.#big || this.#reading || this.closed) return;
    const big = this.relay.take();
    if (!big) return;
    this.#big = true;
    big.set(this.view());
    this.end -= this.start;
    this.start = 0;
    this.buf = big;
  }

  /** Goes back to a small buffer when the unread bytes fit and no read is in flight. */
  shrink(size: number): void {
    if (this.buf.length <= size || this.#reading || this.available > size) return;
    const small = new Uint8Array(size);
    small.set(this.view());
    this.end -= this.start;
    this.start = 0;
    if (this.#big) this.relay.give(this.buf, true);
    this.#big = false;
    this.buf = small;
  }

  /**
   * Reads one message head: the bytes before the first empty line, consumed with it. Leading
   * empty lines are skipped (RFC 9112 §2.2). Resolves null on EOF before any byte of a head.
   * The head is a view into the buffer, valid until the next fill: parse it before reading on.
   * Throws {@link HeadTooLarge} when no head ends within `max` bytes.
   */
  async readHead(max: number): Promise<Uint8Array | null> {
    let scanned = 0;
    for (;;) {
      while (this.available > 0 && scanned === 0) {
        const b = this.buf[this.start];
        if (b === 0x0d || b === 0x0a) this.consume(1);
        else break;
      }
      const end = this.#headEnd(scanned);
      if (end >= 0) {
        const head = this.buf.subarray(this.start, this.start + end);
        this.consume(this.#blankAfter(end));
        return head;
      }
      scanned = Math.max(0, this.available - 3);
      if (this.available >= max) throw new HeadTooLarge(`no head within ${max} bytes`);
      if (this.end === this.buf.length && this.start === 0) this.#enlarge(max);
      if (!(await this.fill())) {
        if (this.available === 0) return null;
        throw new Deno.errors.UnexpectedEof("the connection closed in the middle of a head");
      }
    }
  }

  /** Offset (from start) of the line break that ends the head, or -1. */
  #headEnd(from: number): number {
    const b = this.buf;
    let i = this.start + from;
    for (;;) {
      i = b.indexOf(0x0a, i);
      if (i < 0 || i >= this.end) return -1;
      // "\n\n" or "\n\r\n" ends the head.
      if (i + 1 < this.end && b[i + 1] === 0x0a) return i - this.start;
      if (i + 2 < this.end && b[i + 1] === 0x0d && b[i + 2] === 0x0a) return i - this.start;
      i++;
    }
  }

  /** How many bytes the head and its blank line take, given where the head ends. */
  #blankAfter(end: number): number {
    const at = this.start + end;
    return end + (this.buf[at + 1] === 0x0a ? 2 : 3);
  }

  #enlarge(max: number): void {
    const next = new Uint8Array(Math.min(Math.max(this.buf.length * 2, 1024), max + 4));
    next.set(this.buf.subarray(0, this.end));
    this.buf = next;
  }

  /** Writes every byte, or throws when the socket is gone. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Calls `fn` once when the peer is closed. */
  onClose(fn: () => void): void {
    this.#onClose = fn;
  }

  /** Closes the socket; a read in flight ends with EOF. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.eof = true;
    closeQuietly(this.conn);
    // A read may still be in flight into the buffer: its bytes are returned, not the buffer.
    if (this.#big) this.relay.give(this.buf, false);
    this.#big = false;
    this.#onClose?.();
  }
}

/** Closes peers whose deadline passed; one timer for all of them. */
export class Sweeper {
  readonly #peers = new Set<Peer>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly now: () => number, readonly everyMs: number) {}

  /** The peers it watches, for counting and for closing them all. */
  get peers(): ReadonlySet<Peer> {
    return this.#peers;
  }

  add(p: Peer): void {
    this.#peers.add(p);
    if (!this.#timer) this.#timer = setInterval(() => this.sweep(), this.everyMs);
  }

  delete(p: Peer): void {
    this.#peers.delete(p);
    if (this.#peers.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Closes every peer past its deadline; returns how many. */
  sweep(): number {
    const now = this.now();
    let n = 0;
    for (const p of this.#peers) {
      if (p.deadline <= now) {
        p.timedOut = true;
        p.close();
        n++;
      }
    }
    return n;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
