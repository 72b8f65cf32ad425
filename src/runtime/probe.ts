/**
 * Readiness probe of a published HTTP port. A bare TCP connect is not enough: Docker's userland
 * proxy accepts on the host port even when nothing listens in the container, then resets. So the
 * probe sends a request and calls the port ready unless the connection fails or is closed
 * without a byte of answer.
 * @module
 */

/** Answers whether something serves on host:port (the host a port is published on). */
export type Probe = (port: number, host: string) => Promise<boolean>;

const REQUEST = new TextEncoder().encode("GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");

/** Probes host:port (default 127.0.0.1) over TCP, giving up after `timeoutMs`. */
export async function tcpProbe(
  port: number,
  timeoutMs = 1_000,
  host = "127.0.0.1",
): Promise<boolean> {
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let conn: Deno.TcpConn | undefined;
  try {
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => {
        ctl.abort();
        resolve("timeout");
      }, timeoutMs);
    });
    conn = await Deno.connect({ hostname: host, port, signal: ctl.signal });
    await conn.write(REQUEST);
    const buf = new Uint8Array(1);
    const read = conn.read(buf).catch(() => null);
    const got = await Promise.race([read, timeout]);
    // Still open without an answer after the deadline: a slow server, but a listening one.
    if (got === "timeout") return true;
    return got !== null && got > 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed by the peer
    }
  }
}
