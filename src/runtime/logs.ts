/**
 * Turns Docker's log stream into plain text lines. A container without a TTY sends frames of
 * `[stream, 0, 0, 0, size(4 bytes, big endian)]` + payload, with stdout and stderr interleaved;
 * lines are reassembled per stream so a line is never cut in two by the other stream.
 * @module
 */
import { concatBytes } from "../util/bytes.ts";

const HEADER = 8;
const NEWLINE = 10;

/** True when `head` looks like a multiplexed frame header (stdin, stdout or stderr). */
export function isFrameHeader(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] <= 2 && head[1] === 0 && head[2] === 0 && head[3] === 0;
}

/** Incremental demultiplexer: feed raw bytes, get whole lines back (each ending in "\n"). */
export class LogDemuxer {
  #buf: Uint8Array = new Uint8Array(0);
  #partial = new Map<number, Uint8Array>();
  #raw: boolean | undefined;

  /** Consumes a chunk; returns the complete lines it finished. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#buf = concatBytes([this.#buf, chunk]);
    if (this.#raw === undefined && this.#buf.length >= 4) this.#raw = !isFrameHeader(this.#buf);
    if (this.#raw === undefined) return [];
    if (this.#raw) {
      const data = this.#buf;
      this.#buf = new Uint8Array(0);
      return this.#lines(0, data);
    }
    const out: Uint8Array[] = [];
    while (this.#buf.length >= HEADER) {
      const size = new DataView(this.#buf.buffer, this.#buf.byteOffset).getUint32(4);
      if (this.#buf.length < HEADER + size) break;
      const payload = this.#buf.slice(HEADER, HEADER + size);
      out.push(...this.#lines(this.#buf[0], payload));
      this.#buf = this.#buf.slice(HEADER + size);
    }
    return out;
  }

  /** At the end of the stream: what is left, each unfinished line closed with "\n". */
  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.#buf.length > 0) {
      // A truncated frame or a stream too short to classify: keep its bytes rather than drop them.
      const rest = this.#raw === false && this.#buf.length > HEADER
        ? this.#buf.slice(HEADER)
        : this.#raw === false
        ? new Uint8Array(0)
        : this.#buf;
      out.push(...this.#lines(0, rest));
      this.#buf = new Uint8Array(0);
    }
    for (const part of this.#partial.values()) {
      if (part.length > 0) out.push(concatBytes([part, Uint8Array.of(NEWLINE)]));
    }
    this.#partial.clear();
    return out;
  }

  #lines(stream: number, data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pending = concatBytes([this.#partial.get(stream), data]);
    let nl: number;
    while ((nl = pending.indexOf(NEWLINE)) >= 0) {
      out.push(pending.slice(0, nl + 1));
      pending = pending.slice(nl + 1);
    }
    this.#partial.set(stream, pending);
    return out;
  }
}

/** Demultiplexes a Docker log stream into a stream of plain text lines. */
export function demuxLogs(raw: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const demux = new LogDemuxer();
  return raw.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        for (const line of demux.push(chunk)) ctl.enqueue(line);
      },
      flush(ctl) {
        for (const line of demux.end()) ctl.enqueue(line);
      },
    }),
  );
}
