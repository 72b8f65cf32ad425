/**
 * Byte-level helpers for the proxy's security tests: a kept-alive backend that records every
 * request exactly as it read it (a lenient parser, as many app servers have, so a smuggled
 * request would show up as one more request), and a raw client.
 * @module
 */

/** One request as the recording backend read it. */
export interface Recorded {
  method: string;
  target: string;
  /** Field names lower-cased; repeated fields joined by ", ". */
  headers: Record<string, string>;
  body: string;
  /** Which backend connection it came on. */
  conn: number;
}

/** A backend that answers every request on kept-alive connections and records them. */
export interface RecordingBackend {
  port: number;
  requests: Recorded[];
  /** Connections accepted so far. */
  accepted: number;
  /** Connections open now. */
  open: number;
  close(): Promise<void>;
}

const dec = new TextDecoder("latin1");

/**
 * Starts the recording backend. `respond` may return the raw response for a request (default:
 * 200 with `ok` and a Content-Length), or a promise to answer late.
 */
export function startRecordingBackend(
  respond: (r: Recorded) => string | Promise<string> = () =>
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
): RecordingBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const b: RecordingBackend = {
    port: (listener.addr as Deno.NetAddr).port,
    requests: [],
    accepted: 0,
    get open() {
      return conns.size;
    },
    close: async () => {
      listener.close();
      for (const c of conns) c.close();
      conns.clear();
      await loop.catch(() => {});
    },
  };
  const serve = async (conn: Deno.Conn, id: number) => {
    conns.add(conn);
    let buf = "";
    const chunk = new Uint8Array(65536);
    // One read in flight at most, shared: a late answer races it to notice the proxy leaving.
    let reading: Promise<void> | undefined;
    const more = () =>
      reading ??= conn.read(chunk).then((n) => {
        reading = undefined;
        if (n === null) throw new Error("eof");
        buf += dec.decode(chunk.subarray(0, n));
      });
    try {
      for (;;) {
        while (!buf.includes("\r\n\r\n")) await more();
        const end = buf.indexOf("\r\n\r\n");
        const lines = buf.slice(0, end).split("\r\n");
        buf = buf.slice(end + 4);
        const [method, target] = lines[0].split(" ");
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const c = l.indexOf(":");
          const k = l.slice(0, c).trim().toLowerCase();
          const v = l.slice(c + 1).trim();
          headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
        }
        let body = "";
        if (headers["content-length"] !== undefined) {
          const n = parseInt(headers["content-length"]);
          while (buf.length < n) await more();
          body = buf.slice(0, n);
          buf = buf.slice(n);
        } else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
          for (;;) {
            while (!buf.includes("\r\n")) await more();
            const size = parseInt(buf.slice(0, buf.indexOf("\r\n")), 16);
            buf = buf.slice(buf.indexOf("\r\n") + 2);
            if (size === 0) {
              while (!buf.includes("\r\n")) await more();
              while (!buf.startsWith("\r\n")) {
                buf = buf.slice(buf.indexOf("\r\n") + 2);
                while (!buf.includes("\r\n")) await more();
              }
              buf = buf.slice(2);
              break;
            }
            while (buf.length < size + 2) await more();
            body += buf.slice(0, size);
            buf = buf.slice(size + 2);
          }
        }
        const rec = { method, target, headers, body, conn: id };
        b.requests.push(rec);
        const answer = await Promise.race([respond(rec), closedWhileWaiting(more)]);
        await conn.write(new TextEncoder().encode(answer));
      }
    } catch {
      // the proxy closed the connection
    } finally {
      if (conns.delete(conn)) conn.close();
    }
  };
  const loop = (async () => {
    for await (const conn of listener) serve(conn, ++b.accepted);
  })();
  return b;
}

/** Rejects when the connection ends; pipelined bytes that arrive meanwhile are kept. */
async function closedWhileWaiting(more: () => Promise<void>): Promise<never> {
  for (;;) await more();
}

/** What a raw exchange got: every byte the proxy sent until it closed or went quiet. */
export interface RawExchange {
  text: string;
  /** Status codes of the responses found in `text`, in order. */
  statuses: number[];
  closed: boolean;
}

/**
 * Sends raw bytes on a new connection and reads until the proxy closes it or `quietMs` pass
 * without a byte after `wantResponses` status lines have come.
 */
export async function rawExchange(
  port: number,
  bytes: string | Uint8Array,
  o: { wantResponses?: number; quietMs?: number; deadlineMs?: number } = {},
): Promise<RawExchange> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const want = o.wantResponses ?? 1;
  const deadline = Date.now() + (o.deadlineMs ?? 5000);
  let text = "";
  let closed = false;
  try {
    await conn.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
    const buf = new Uint8Array(65536);
    for (;;) {
      const statuses = text.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0;
      const wait = statuses >= want ? (o.quietMs ?? 150) : deadline - Date.now();
      if (wait <= 0) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        new Promise<"quiet">((r) => (timer = setTimeout(() => r("quiet"), wait))),
      ]);
      clearTimeout(timer);
      if (n === "quiet") break;
      if (n === null) {
        closed = true;
        break;
      }
      text += dec.decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  return { text, statuses, closed };
}

/** The descriptors this process has open now. */
export function openDescriptors(pid: number | "self" = "self"): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}
