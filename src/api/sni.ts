/**
 * The server name (SNI) a TLS client asks for, read from its ClientHello before any TLS is
 * done, so one port can hand the connection to the server with the right certificate (as
 * sslh and HAProxy's `req.ssl_sni` do). Every byte is the client's: lengths are checked, the
 * read is bounded in size and time, and anything odd gives no name rather than an error.
 * @module
 */
import { concatBytes } from "../util/bytes.ts";

/** Most bytes read before giving up on finding the ClientHello's end. */
export const MAX_HELLO_BYTES = 16 * 1024;

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const SERVER_NAME = 0;
const HOST_NAME = 0;

/** A bounds-checked reader; every read past the end throws, caught by the callers here. */
class Cursor {
  constructor(readonly b: Uint8Array, public at = 0) {}
  u8(): number {
    if (this.at + 1 > this.b.length) throw new RangeError("short");
    return this.b[this.at++];
  }
  u16(): number {
    return (this.u8() << 8) | this.u8();
  }
  u24(): number {
    return (this.u8() << 16) | this.u16();
  }
  take(n: number): Uint8Array {
    if (this.at + n > this.b.length) throw new RangeError("short");
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

/**
 * The host name of a ClientHello handshake message (its 4-byte header included), lower-cased,
 * or undefined when it names none or is not one.
 */
export function serverNameOf(hello: Uint8Array): string | undefined {
  try {
    const c = new Cursor(hello);
    if (c.u8() !== CLIENT_HELLO) return undefined;
    const body = new Cursor(c.take(c.u24()));
    body.take(2 + 32); // legacy_version, random
    body.take(body.u8()); // legacy_session_id
    body.take(body.u16()); // cipher_suites
    body.take(body.u8()); // legacy_compression_methods
    if (body.at === body.b.length) return undefined; // no extensions
    const exts = new Cursor(body.take(body.u16()));
    while (exts.at < exts.b.length) {
      const type = exts.u16();
      const data = exts.take(exts.u16());
      if (type !== SERVER_NAME) continue;
      const list = new Cursor(data);
      const names = new Cursor(list.take(list.u16()));
      while (names.at < names.b.length) {
        const kind = names.u8();
        const name = names.take(names.u16());
        if (kind !== HOST_NAME) continue;
        if (name.length > 254) return undefined;
        const text = String.fromCharCode(...name).toLowerCase();
        return /^[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/.test(text) ? text.replace(/\.$/, "") : undefined;
      }
      return undefined;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * The first handshake message of a TLS stream, from the records in `raw`: done when it is
 * complete (`hello`), waiting for more bytes (`more`), or not TLS at all (`none`).
 */
export function helloIn(raw: Uint8Array):
  | { state: "hello"; hello: Uint8Array }
  | { state: "more" }
  | { state: "none" } {
  const fragments: Uint8Array[] = [];
  let have = 0;
  let at = 0;
  while (at + 5 <= raw.length) {
    if (raw[at] !== HANDSHAKE) return { state: "none" };
    const length = (raw[at + 3] << 8) | raw[at + 4];
    if (at + 5 + length > raw.length) break;
    fragments.push(raw.subarray(at + 5, at + 5 + length));
    have += length;
    at += 5 + length;
    if (have >= 4) {
      const joined = concatBytes(fragments);
      const needed = 4 + ((joined[1] << 16) | (joined[2] << 8) | joined[3]);
      if (joined[0] !== CLIENT_HELLO || needed > MAX_HELLO_BYTES) return { state: "none" };
      if (have >= needed) return { state: "hello", hello: joined.subarray(0, needed) };
    }
  }
  if (raw.length >= 1 && raw[0] !== HANDSHAKE) return { state: "none" };
  // The message's own header, while its first record is still coming: not a ClientHello, or
  // one longer than anyone sends, is not waited for.
  if (fragments.length === 0 && raw.length >= 9) {
    const needed = 4 + ((raw[6] << 16) | (raw[7] << 8) | raw[8]);
    if (raw[5] !== CLIENT_HELLO || needed > MAX_HELLO_BYTES) return { state: "none" };
  }
  return raw.length >= MAX_HELLO_BYTES ? { state: "none" } : { state: "more" };
}

/**
 * Reads from `conn` until the ClientHello is complete (or the stream is not TLS, or ends, or
 * `signal` aborts): every byte read, to pass on, and the name asked for.
 */
export async function readServerName(
  conn: Deno.Conn,
  signal: AbortSignal,
): Promise<{ raw: Uint8Array; name?: string }> {
  let raw: Uint8Array = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  const onAbort = () => {
    try {
      conn.close();
    } catch { /* closed already */ }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const found = helloIn(raw);
      if (found.state === "hello") return { raw, name: serverNameOf(found.hello) };
      if (found.state === "none") return { raw };
      const n = await conn.read(buf);
      if (n === null) return { raw };
      raw = concatBytes([raw, buf.subarray(0, n)]);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
