/**
 * Whether a published port speaks HTTP: a compose file says `"8096:8096"` for Jellyfin's web
 * interface and `"25565:25565"` for a game server in the same way, so the node running the
 * replica asks. Only an answer that starts like an HTTP response counts: a TLS port answers
 * with an alert, a database with its own greeting or nothing.
 * @module
 */

const REQUEST = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: fossora-detect\r\nConnection: close\r\n\r\n",
);

/** Answers whether host:port answers an HTTP request with an HTTP response. */
export type HttpDetect = (port: number, host: string) => Promise<boolean>;

/** Sends one HTTP request to host:port and reads the first bytes of the answer. */
export async function detectHttp(port: number, host: string, timeoutMs = 2_000): Promise<boolean> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: host, port, signal: ctl.signal });
    const closeOnAbort = () => conn?.close();
    ctl.signal.addEventListener("abort", closeOnAbort, { once: true });
    await conn.write(REQUEST);
    const head = new Uint8Array(5);
    let got = 0;
    while (got < head.length) {
      const n = await conn.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    return new TextDecoder().decode(head.subarray(0, got)) === "HTTP/";
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed already
    }
  }
}
