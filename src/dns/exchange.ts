/**
 * One question to one upstream resolver, over UDP or TCP. Over UDP every query gets its own
 * socket, so a fresh source port the kernel picks at random, and a fresh random id; a datagram
 * is believed only when it comes from the address and port asked and answers that id and
 * question (anything else is a stray or a forgery, and is ignored, not taken as failure).
 * @module
 */
import { ipv6Bytes } from "../util/ip.ts";
import { closeQuietly, writeAll } from "../util/conn.ts";
import { readUpstream, type Upstreamed, upstreamQuery } from "./relay.ts";
import type { Upstream } from "./upstreams.ts";
import { tcpFrame } from "./wire.ts";

/** Asks one upstream one question; rejects on timeout or a transport error. */
export type Exchange = (
  upstream: Upstream,
  question: Uint8Array,
  dnssecOk: boolean,
  timeoutMs: number,
) => Promise<Upstreamed>;

/** Thrown when an upstream did not answer in time. */
export class UpstreamTimeout extends Error {}

/** A random 16-bit query id. */
function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0];
}

/** Largest DNS message. */
const MAX_MESSAGE = 65535;

/** Asks over UDP; see the module doc for what is believed. */
export const udpExchange: Exchange = async (upstream, question, dnssecOk, timeoutMs) => {
  const v6 = upstream.host.includes(":");
  const conn = Deno.listenDatagram({ transport: "udp", hostname: v6 ? "::" : "0.0.0.0", port: 0 });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, timeoutMs);
  const id = randomId();
  const want = v6 ? ipv6Bytes(upstream.host)?.join(",") : upstream.host;
  try {
    await conn.send(upstreamQuery(id, question, dnssecOk), {
      transport: "udp",
      hostname: upstream.host,
      port: upstream.port,
    });
    const buf = new Uint8Array(MAX_MESSAGE);
    for (;;) {
      const [packet, from] = await conn.receive(buf);
      const addr = from as Deno.NetAddr;
      const host = v6 ? ipv6Bytes(addr.hostname.split("%")[0])?.join(",") : addr.hostname;
      if (addr.port !== upstream.port || host !== want) continue;
      const reply = readUpstream(packet, id, question);
      if (reply) return reply;
    }
  } catch (e) {
    if (timedOut) throw new UpstreamTimeout(`${upstream.label} did not answer in ${timeoutMs} ms`);
    throw e;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
};

/** Asks over TCP: one connection, one length-prefixed query and reply. */
export const tcpExchange: Exchange = async (upstream, question, dnssecOk, timeoutMs) => {
  let conn: Deno.TcpConn | undefined;
  const give = new AbortController();
  const timer = setTimeout(() => {
    give.abort();
    if (conn) closeQuietly(conn);
  }, timeoutMs);
  const id = randomId();
  try {
    conn = await Deno.connect({
      hostname: upstream.host,
      port: upstream.port,
      signal: give.signal,
    });
    if (give.signal.aborted) throw new Error("gave up");
    await writeAll(conn, tcpFrame(upstreamQuery(id, question, dnssecOk)));
    const head = await readExactly(conn, 2);
    const reply = readUpstream(await readExactly(conn, (head[0] << 8) | head[1]), id, question);
    if (!reply) throw new Error(`${upstream.label} answered over TCP with something else`);
    return reply;
  } catch (e) {
    if (give.signal.aborted) {
      throw new UpstreamTimeout(`${upstream.label} did not answer over TCP in ${timeoutMs} ms`);
    }
    throw e;
  } finally {
    clearTimeout(timer);
    if (conn) closeQuietly(conn);
  }
};

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n;) {
    const got = await conn.read(out.subarray(at));
    if (got === null) throw new Error("the upstream closed the connection mid-reply");
    at += got;
  }
  return out;
}
