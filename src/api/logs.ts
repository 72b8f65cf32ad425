/**
 * Joins the log streams of several replicas into one text stream. Lines stay whole (a line of one
 * replica is never cut by a line of another) and, when there is more than one replica, each line
 * says which replica wrote it.
 * @module
 */
import { LineSplitter } from "../util/lines.ts";

/** One replica's log stream and the prefix its lines get (`""` for none). */
export interface LogSource {
  prefix: string;
  stream: ReadableStream<Uint8Array>;
}

const encoder = new TextEncoder();

/** A transform that puts `prefix` before every line; a last line without `\n` gets one. */
export function prefixLines(prefix: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  // The lines of one chunk go out as one chunk: fewer, larger writes to the client.
  return new TransformStream({
    transform(chunk, controller) {
      const lines = splitter.push(decoder.decode(chunk, { stream: true }));
      if (lines.length) {
        controller.enqueue(encoder.encode(lines.map((l) => prefix + l + "\n").join("")));
      }
    },
    flush(controller) {
      splitter.push(decoder.decode());
      const last = splitter.end();
      if (last !== undefined) controller.enqueue(encoder.encode(prefix + last + "\n"));
    },
  });
}

/**
 * One stream of all sources' lines, in the order they arrive; it ends when every source has
 * ended. `notices` are lines sent first (e.g. a replica whose log could not be opened).
 * Cancelling it cancels every source and calls `onCancel`.
 */
export function mergeLogs(
  sources: LogSource[],
  notices: string[] = [],
  onCancel: () => void = () => {},
): ReadableStream<Uint8Array> {
  const readers = sources.map((s) =>
    (s.prefix === "" ? s.stream : s.stream.pipeThrough(prefixLines(s.prefix))).getReader()
  );
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const n of notices) controller.enqueue(encoder.encode(n + "\n"));
      const send = (chunk: Uint8Array) => {
        if (!done) controller.enqueue(chunk);
      };
      const pumps = readers.map((reader, i) => pump(reader, sources[i].prefix, send));
      Promise.all(pumps).then(() => {
        if (done) return;
        done = true;
        controller.close();
      });
    },
    async cancel() {
      done = true;
      onCancel();
      await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    },
  });
}

async function pump(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  prefix: string,
  send: (chunk: Uint8Array) => void,
): Promise<void> {
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      send(value);
    }
  } catch (e) {
    send(encoder.encode(`${prefix}(log stream ended: ${e instanceof Error ? e.message : e})\n`));
  }
}
