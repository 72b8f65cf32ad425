/**
 * The round trip from this node to each etcd peer, measured on the peer port the members talk
 * over: a few samples a peer, one after another, each with a timeout; the median counts, so one
 * slow sample (a pause, a retransmit) does not move it.
 *
 * What one sample times is the probe's business ({@link RoundTripProbe}). The agent's probe
 * ({@link tlsHandshakeProbe}) times the TLS handshake on a fresh connection, after the TCP
 * connect: one full round trip of data through whatever carries etcd's traffic. A bare TCP
 * connect ({@link tcpConnectProbe}) times the same round trip on a plain network, but not through
 * a relay or proxy that accepts connections itself (the test harness delays traffic with one).
 * @module
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { ETCD_SERVER_NAME, type NodeCerts } from "./certs.ts";

/** Where a peer listens: `host` without brackets. */
export interface PeerAddress {
  host: string;
  port: number;
}

/**
 * One round trip to `target`, in ms; rejects when there is none to be had (refused, reset,
 * aborted). It must give up when `signal` aborts.
 */
export type RoundTripProbe = (target: PeerAddress, signal: AbortSignal) => Promise<number>;

/** A peer's round trip, or why it could not be measured. */
export interface PeerRtt {
  url: string;
  rttMs?: number;
  error?: string;
}

/** Options of {@link measurePeers}. */
export interface MeasureOptions {
  probe: RoundTripProbe;
  /** Samples a peer (default 5); a peer is measured when more than half of them succeed. */
  samples?: number;
  /** How long one sample may take, ms (default 3000). */
  timeoutMs?: number;
}

/** Measures every peer at once (each peer's samples one after another). */
export function measurePeers(peerUrls: readonly string[], o: MeasureOptions): Promise<PeerRtt[]> {
  return Promise.all(peerUrls.map((url) => measurePeer(url, o)));
}

/** Measures one peer by its peer URL (`https://10.0.0.2:2380`). */
export async function measurePeer(url: string, o: MeasureOptions): Promise<PeerRtt> {
  let target: PeerAddress;
  try {
    target = peerAddress(url);
  } catch (err) {
    return { url, error: (err as Error).message };
  }
  const samples = o.samples ?? 5;
  const timeoutMs = o.timeoutMs ?? 3000;
  const times: number[] = [];
  let lastError = "";
  for (let i = 0; i < samples; i++) {
    try {
      times.push(await sample(o.probe, target, timeoutMs));
    } catch (err) {
      lastError = String((err as Error)?.message ?? err);
    }
  }
  if (times.length * 2 <= samples) {
    return {
      url,
      error: `${samples - times.length} of ${samples} round trips to ${url} failed: ${lastError}`,
    };
  }
  return { url, rttMs: median(times) };
}

/** One probe, abandoned (and told to give up) after `timeoutMs`. */
async function sample(probe: RoundTripProbe, target: PeerAddress, timeoutMs: number) {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Rejected first, so the race reports the timeout rather than the probe's "aborted".
      reject(new Error(`no answer within ${timeoutMs} ms`));
      abort.abort();
    }, timeoutMs);
  });
  try {
    return await Promise.race([probe(target, abort.signal), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The middle value (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Host and port of a peer URL as etcd's member list gives it. */
export function peerAddress(url: string): PeerAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(
      `peer URL ${JSON.stringify(url)} is not a URL; etcd's member list gives ` +
        "scheme://host:port",
    );
  }
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  if (!u.hostname || !Number.isInteger(port) || port < 1) {
    throw new Error(`peer URL ${url} names no host and port`);
  }
  return { host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}

/** The time a TCP connect takes: a round trip on a plain network. */
export function tcpConnectProbe(): RoundTripProbe {
  return async (target, signal) => {
    const start = performance.now();
    const socket = await connectSocket(target, signal);
    const ms = performance.now() - start;
    socket.destroy();
    return ms;
  };
}

/**
 * The time of a TLS handshake with this node's certificate on a fresh connection to the peer
 * port (after the connect, which is not counted): one round trip of data, as etcd's own traffic
 * makes it. Completing the handshake with a certificate the member trusts keeps the member's
 * log quiet; a half-open or refused handshake would log a rejected connection each time.
 */
export function tlsHandshakeProbe(certs: NodeCerts): RoundTripProbe {
  const read = (path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch (err) {
      throw new Error(
        `cannot read ${path} to measure etcd peers: ${(err as Error).message}; ` +
          "re-create the node certificates (DATA_DIR/pki)",
      );
    }
  };
  const credentials = {
    ca: read(certs.caFile),
    cert: read(certs.certFile),
    key: read(certs.keyFile),
  };
  return async (target, signal) => {
    const socket = await connectSocket(target, signal);
    const start = performance.now();
    // Every member's certificate carries this name, and Deno's TLS takes no IP as server name.
    const secure = tls.connect({ socket, servername: ETCD_SERVER_NAME, ...credentials });
    try {
      await settle(secure, "secureConnect", signal);
      return performance.now() - start;
    } finally {
      secure.destroy();
      socket.destroy();
    }
  };
}

async function connectSocket(target: PeerAddress, signal: AbortSignal): Promise<net.Socket> {
  const socket = net.connect({ host: target.host, port: target.port });
  try {
    await settle(socket, "connect", signal);
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Resolves on `event`, rejects on the socket's error or the signal's abort. */
function settle(
  socket: net.Socket | tls.TLSSocket,
  event: string,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      socket.off(event, onEvent);
      socket.off("error", done);
      signal.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onEvent = () => done();
    const onAbort = () => done(new Error("aborted"));
    if (signal.aborted) return onAbort();
    socket.once(event, onEvent);
    socket.once("error", done);
    signal.addEventListener("abort", onAbort);
  });
}
