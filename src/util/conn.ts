/**
 * Small chores of sockets and files: writing a whole buffer, closing what may already be closed.
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
