/**
 * The heartbeat datagram nodes send each other: who sends it, and how long ago the sender last
 * heard each of its peers, so a receiver can ask the other nodes' opinion before it calls one
 * dead. 32 bytes of HMAC-SHA256 over the body with the cluster's peer token come first, then the
 * body as JSON: a datagram from outside the cluster, or altered on the way, is dropped.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** What one heartbeat says. */
export interface Heartbeat {
  /** The sender's node id. */
  from: string;
  /** Random for each start of the sender's agent: a restart is told from a replay. */
  boot: string;
  /** Counts up from 1 within a boot: an older heartbeat replayed is dropped. */
  seq: number;
  /** Milliseconds since the sender last heard each peer it has heard (never heard: absent). */
  heard: Record<string, number>;
}

/** No heartbeat is larger: a cluster of a hundred nodes fits with room to spare. */
export const MAX_HEARTBEAT_BYTES = 8192;
const MAC_BYTES = 32;
const ID = /^[A-Za-z0-9._-]{1,128}$/;

function mac(key: Uint8Array, body: Uint8Array): Buffer {
  return createHmac("sha256", key).update(body).digest();
}

/** The datagram for `hb`, signed with `key`. */
export function encodeHeartbeat(hb: Heartbeat, key: Uint8Array): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify({ v: 1, ...hb }));
  const out = new Uint8Array(MAC_BYTES + body.length);
  out.set(mac(key, body), 0);
  out.set(body, MAC_BYTES);
  return out;
}

/**
 * The heartbeat in a datagram, or why it was refused (unsigned, signed with another key, not
 * the format): whatever arrives on the port may come from anyone.
 */
export function decodeHeartbeat(bytes: Uint8Array, key: Uint8Array): Heartbeat | string {
  if (bytes.length > MAX_HEARTBEAT_BYTES) return `larger than ${MAX_HEARTBEAT_BYTES} bytes`;
  if (bytes.length <= MAC_BYTES) return "too short to be a heartbeat";
  const body = bytes.subarray(MAC_BYTES);
  if (!timingSafeEqual(mac(key, body), bytes.subarray(0, MAC_BYTES))) {
    return "bad signature (not from this cluster)";
  }
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return "body is not JSON";
  }
  const o = v as Partial<Heartbeat> & { v?: unknown };
  if (typeof o !== "object" || o === null || o.v !== 1) return "not a version 1 heartbeat";
  if (typeof o.from !== "string" || !ID.test(o.from)) return "bad sender id";
  if (typeof o.boot !== "string" || !ID.test(o.boot)) return "bad boot id";
  if (!Number.isSafeInteger(o.seq) || o.seq! < 1) return "bad sequence number";
  if (typeof o.heard !== "object" || o.heard === null || Array.isArray(o.heard)) {
    return "bad heard map";
  }
  const heard: Record<string, number> = {};
  for (const [id, ms] of Object.entries(o.heard)) {
    if (!ID.test(id) || typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      return `bad heard entry ${JSON.stringify(id).slice(0, 40)}`;
    }
    heard[id] = ms;
  }
  return { from: o.from, boot: o.boot, seq: o.seq!, heard };
}
