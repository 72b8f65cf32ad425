/**
 * Small chores of sockets and files: writing a whole buffer, closing what may already be closed,
 * connecting with a deadline, relaying between two sockets.
 * @module
 */

/** Anything with Deno's `write`, which may take only part of what it is given. */
export interface PartialWriter {
  write(data: Uint8Array): Promise<number>;
}

/** Writes all of `data`, however many `write` calls that takes. */
export async function writeAll(to: PartialWriter, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await to.write(data.subarray(at));
}

/** Closes `c`, ignoring that it is already closed (the other side or a stop got there first). */
export function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}

/** Opens a TCP connection; aborting `signal` must give up the attempt. */
export type TcpConnect = (
  hostname: string,
  port: number,
  signal: AbortSignal,
) => Promise<Deno.TcpConn>;

/** Connects with `Deno.connect`; the default {@link TcpConnect}. */
export const denoConnect: TcpConnect = (hostname, port, signal) =>
  Deno.connect({ hostname, port, signal });

/**
 * Connects within `timeoutMs`, giving up at once when `stop` is aborted. A connection that comes
 * through after the attempt gave up is closed, so nothing leaks.
 */
export async function connectWithin(
  connect: TcpConnect,
  hostname: string,
  port: number,
  timeoutMs: number,
  stop?: AbortSignal,
): Promise<Deno.TcpConn> {
  const attempt = new AbortController();
  const abort = () => attempt.abort(stop?.reason);
  if (stop?.aborted) abort();
  stop?.addEventListener("abort", abort, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Settles only by rejecting: on the timeout, or at once when `stop` aborts the attempt.
  const gaveUp = new Promise<never>((_, reject) => {
    if (attempt.signal.aborted) reject(attempt.signal.reason);
    attempt.signal.addEventListener("abort", () => reject(attempt.signal.reason), { once: true });
    timer = setTimeout(
      () => attempt.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  let connecting: Promise<Deno.TcpConn> | undefined;
  try {
    connecting = connect(hostname, port, attempt.signal);
    return await Promise.race([connecting, gaveUp]);
  } catch (err) {
    connecting?.then(closeQuietly, () => {});
    throw err;
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener("abort", abort);
  }
}

/**
 * Copies both ways until both sides have finished sending, passing each end-of-stream on as a
 * half-close; on an error closes both. `conn.readable`/`writable` are not used because Deno
 * closes the whole socket when either stream ends, which would cut the other direction short.
 * Either socket closed from outside (a stop) ends it with that error; both are closed on return.
 */
export async function splice(a: Deno.Conn, b: Deno.Conn, o: SpliceBuffers = {}): Promise<void> {
  let failure: unknown;
  const fail = (err: unknown) => {
    failure ??= err;
    closeQuietly(a);
    closeQuietly(b);
  };
  await Promise.all([copy(a, b, o).catch(fail), copy(b, a, o).catch(fail)]);
  closeQuietly(a);
  closeQuietly(b);
  if (failure !== undefined) throw failure;
}

const SPLICE_BUFFER_SIZE = 64 * 1024;

/**
 * The buffer of each direction of a {@link splice}: `size` to start with (default 64 KiB); a
 * direction whose reads fill it grows it up to `max` (default: `size`), 4 times at a step. Bulk
 * transfers then move in large reads and writes (a quarter of the calls of 64 KiB ones, nearly
 * twice the rate through a Deno relay), while connections of small requests keep small buffers.
 */
export interface SpliceBuffers {
  size?: number;
  max?: number;
}

/** Copies `from` to `to` until end-of-stream, then half-closes `to`. */
async function copy(from: Deno.Conn, to: Deno.Conn, o: SpliceBuffers): Promise<void> {
  const max = o.max ?? o.size ?? SPLICE_BUFFER_SIZE;
  let buf = new Uint8Array(o.size ?? SPLICE_BUFFER_SIZE);
  for (;;) {
    const n = await from.read(buf);
    if (n === null) break;
    await writeAll(to, buf.subarray(0, n));
    if (n === buf.length && buf.length < max) buf = new Uint8Array(Math.min(max, n * 4));
  }
  await to.closeWrite();
}
