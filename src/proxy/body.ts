/**
 * Message bodies from one peer to another. The proxy decodes the framing it receives (a length,
 * chunks, or the connection's end) and writes its own, so a body can never spill into the next
 * message on a kept-alive connection. Chunked framing is read strictly: hex sizes of at most 15
 * digits, CRLF and nothing else after each line and each chunk.
 * @module
 */
import { concatBytes } from "../util/bytes.ts";
import { bytesOf, latin1 } from "./head.ts";
import type { Peer } from "./peer.ts";

/** How a body is delimited. */
export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  /** Until the sender closes (a response without length or chunks). */
  | { kind: "close" };

/** How a relay ended. */
export type RelayEnd =
  /** The whole body arrived and was written. */
  | "done"
  /** The sender closed (or timed out) before the body's end. */
  | "truncated"
  /** The receiver went away (or timed out). */
  | "gone"
  /** The sender's chunked framing was malformed. */
  | "malformed";

/** Limits and the clock of a relay. */
export interface RelayOptions {
  now: () => number;
  /** Time without progress after which either side is cut, ms. */
  idleMs: number;
  /** Longest chunk-size line or trailer line, bytes. */
  maxLine: number;
  /** Most trailer bytes accepted (and dropped) after the last chunk. */
  maxTrailer: number;
}

const CRLF = bytesOf("\r\n");
const LAST_CHUNK = bytesOf("0\r\n\r\n");
const CHUNK_LINE = /^([0-9A-Fa-f]{1,15})(;[\t\x20-\x7e\x80-\xff]*)?$/;
/** Written data below this size is copied next to its chunk framing for one write. */
const COPY_BELOW = 16 * 1024;

class Malformed extends Error {}
class Gone extends Error {}
class Truncated extends Error {}

/**
 * Copies a body framed by `from` from `src` to `dst`, writing it chunked when `chunked` (else as
 * raw bytes, for a length the receiver already knows or a close-delimited body). `first` is
 * written before the first body bytes (a response head), in the same write when small.
 */
export async function relayBody(
  src: Peer,
  dst: Peer,
  from: Framing,
  chunked: boolean,
  o: RelayOptions,
  first?: Uint8Array,
): Promise<RelayEnd> {
  // The common small answer: head and whole body are here, so one write and no more.
  if (
    from.kind === "length" && !chunked && first && src.available >= from.length &&
    first.length + from.length <= COPY_BELOW
  ) {
    const out = new Uint8Array(first.length + from.length);
    out.set(first);
    out.set(src.buf.subarray(src.start, src.start + from.length), first.length);
    src.consume(from.length);
    dst.deadline = o.now() + o.idleMs;
    return await dst.write(out).then(() => "done" as const, () => "gone" as const);
  }
  let pending = first;
  const emit = async (data: Uint8Array): Promise<void> => {
    const head = pending;
    pending = undefined;
    if (chunked) {
      if (data.length === 0) return;
      const size = bytesOf(data.length.toString(16) + "\r\n");
      if (data.length < COPY_BELOW) {
        return await write(dst, concatBytes([head, size, data, CRLF]), o);
      }
      await write(dst, concatBytes([head, size]), o);
      await write(dst, data, o);
      await write(dst, CRLF, o);
    } else if (head && head.length + data.length <= COPY_BELOW) {
      await write(dst, concatBytes([head, data]), o);
    } else {
      if (head) await write(dst, head, o);
      if (data.length) await write(dst, data, o);
    }
  };
  try {
    // A head goes out at once when no body byte is here yet: an event stream's headers must not
    // wait for its first event, nor a WebSocket's 101 for its first message.
    if (pending && src.available === 0) {
      await write(dst, pending, o);
      pending = undefined;
    }
    switch (from.kind) {
      case "none":
        break;
      case "length":
        await copyLength(src, from.length, emit, o);
        break;
      case "close":
        await copyUntilClose(src, emit, o);
        break;
      case "chunked":
        await copyChunked(src, emit, o);
        break;
    }
    const end = chunked ? LAST_CHUNK : new Uint8Array(0);
    const tail = pending ? concatBytes([pending, end]) : end;
    if (tail.length) await write(dst, tail, o);
    return "done";
  } catch (err) {
    if (err instanceof Gone) return "gone";
    if (err instanceof Truncated) return "truncated";
    if (err instanceof Malformed) return "malformed";
    throw err;
  }
}

async function write(dst: Peer, bytes: Uint8Array, o: RelayOptions): Promise<void> {
  dst.deadline = o.now() + o.idleMs;
  try {
    await dst.write(bytes);
  } catch {
    throw new Gone();
  }
}

/**
 * Waits for more bytes from `src`; throws Truncated at its end. A read that fills the buffer means
 * the sender is ahead: the next reads go into a big one (an event stream or a WebSocket that
 * sends little never takes one).
 */
async function more(src: Peer, o: RelayOptions): Promise<boolean> {
  src.deadline = o.now() + o.idleMs;
  if (!(await src.fill())) return false;
  if (src.end === src.buf.length) src.grow();
  return true;
}

async function copyLength(
  src: Peer,
  length: number,
  emit: (b: Uint8Array) => Promise<void>,
  o: RelayOptions,
): Promise<void> {
  let left = length;
  // A body that will not fit where it is moves to a big buffer now.
  if (left - src.available > src.buf.length - src.end) src.grow();
  while (left > 0) {
    if (src.available === 0 && !(await more(src, o))) throw new Truncated();
    const n = Math.min(left, src.available);
    await emit(src.buf.subarray(src.start, src.start + n));
    src.consume(n);
    left -= n;
  }
}

async function copyUntilClose(
  src: Peer,
  emit: (b: Uint8Array) => Promise<void>,
  o: RelayOptions,
): Promise<void> {
  for (;;) {
    if (src.available === 0 && !(await more(src, o))) {
      if (src.timedOut) throw new Truncated();
      return;
    }
    const n = src.available;
    await emit(src.view());
    src.consume(n);
  }
}

/** Reads one CRLF-terminated line of at most `max` bytes; a lone LF is malformed. */
async function line(src: Peer, max: number, o: RelayOptions): Promise<string> {
  for (;;) {
    const v = src.view();
    const lf = v.indexOf(0x0a);
    if (lf >= 0) {
      if (lf === 0 || v[lf - 1] !== 0x0d || lf - 1 > max) throw new Malformed();
      const text = latin1(v.subarray(0, lf - 1));
      src.consume(lf + 1);
      return text;
    }
    if (v.length > max) throw new Malformed();
    if (!(await more(src, o))) throw new Truncated();
  }
}

async function copyChunked(
  src: Peer,
  emit: (b: Uint8Array) => Promise<void>,
  o: RelayOptions,
): Promise<void> {
  for (;;) {
    const m = CHUNK_LINE.exec(await line(src, o.maxLine, o));
    if (!m) throw new Malformed();
    const size = parseInt(m[1], 16);
    if (size === 0) break;
    await copyLength(src, size, emit, o);
    while (src.available < 2) if (!(await more(src, o))) throw new Truncated();
    if (src.buf[src.start] !== 0x0d || src.buf[src.start + 1] !== 0x0a) throw new Malformed();
    src.consume(2);
  }
  // Trailer fields are read to find the message's end, and dropped: none is needed downstream.
  let trailer = 0;
  for (;;) {
    const l = await line(src, o.maxLine, o);
    if (l === "") return;
    trailer += l.length + 2;
    if (trailer > o.maxTrailer || /^[\t ]/.test(l) || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(l)) {
      throw new Malformed();
    }
  }
}
