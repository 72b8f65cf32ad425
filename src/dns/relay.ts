/**
 * The wire side of forwarding: the query sent upstream, the checks a reply must pass before it is
 * believed, what a reply is worth keeping (its TTLs, RFC 2308 negative TTL), and the reply each
 * client gets from a kept one (its own id and question, TTLs counted down, its own EDNS).
 *
 * Upstream replies are kept as bytes and never re-encoded: the client's question has the same
 * length as the one sent upstream (names differ at most in letter case), so every compression
 * pointer in the records still points where it did.
 * @module
 */
import { EDNS_UDP_MAX, HEADER_SIZE, type Query, skipName, TYPE } from "./wire.ts";

/** Response code for "the resolver failed", which the zone never sends. */
export const SERVFAIL = 2;

/** Size of an OPT record without options. */
const OPT_SIZE = 11;

/**
 * The query sent upstream for `question` (the client's question bytes, name through class): a
 * fresh `id`, RD set, and an OPT announcing our UDP size and the client's DO bit.
 */
export function upstreamQuery(id: number, question: Uint8Array, dnssecOk: boolean): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + question.length + OPT_SIZE);
  out[0] = id >> 8;
  out[1] = id & 0xff;
  out[2] = 0x01; // RD
  out[5] = 1;
  out[11] = 1;
  out.set(question, HEADER_SIZE);
  writeOpt(out, HEADER_SIZE + question.length, dnssecOk);
  return out;
}

/** A reply worth keeping, read from an upstream's bytes. */
export interface Upstreamed {
  /** The reply from its header through the last record before any OPT; OPT and after dropped. */
  bytes: Uint8Array;
  rcode: number;
  /** TC was set: the caller asks again over TCP. */
  truncated: boolean;
  /** Where each record's TTL sits in `bytes`, and its value. */
  ttlAt: number[];
  ttls: number[];
  /**
   * How long the reply may be kept, seconds: the smallest TTL of its records, or for a negative
   * reply (no answers) the SOA's TTL capped by its minimum field (RFC 2308 5); 0 when there is
   * nothing to go by (a negative reply without SOA is not kept).
   */
  ttl: number;
  /** Where the additional section starts, so it can be dropped when the whole does not fit. */
  additionalAt: number;
}

/**
 * Reads `reply` as the answer to the query with `id` and the question bytes `question`; undefined
 * when it is not that answer (a response with another id or question, a query, garbage), which
 * the caller ignores as spoofed or stray. Never follows a compression pointer, so the walk is
 * bounded by the packet.
 */
export function readUpstream(
  reply: Uint8Array,
  id: number,
  question: Uint8Array,
): Upstreamed | undefined {
  if (reply.length < HEADER_SIZE + question.length) return undefined;
  if (((reply[0] << 8) | reply[1]) !== id) return undefined;
  if (!(reply[2] & 0x80) || ((reply[2] >> 3) & 0xf) !== 0) return undefined; // a response, QUERY
  if (reply[4] !== 0 || reply[5] !== 1) return undefined;
  for (let i = 0; i < question.length; i++) {
    if (lower(reply[HEADER_SIZE + i]) !== lower(question[i])) return undefined;
  }
  const counts = [
    (reply[6] << 8) | reply[7],
    (reply[8] << 8) | reply[9],
    (reply[10] << 8) | reply[11],
  ];
  let at = HEADER_SIZE + question.length;
  const ttlAt: number[] = [];
  const ttls: number[] = [];
  let minTtl = Infinity;
  let negativeTtl = -1;
  let additionalAt = at;
  const kept = [0, 0, 0];
  let extendedRcode = 0;
  walk: for (let section = 0; section < 3; section++) {
    if (section === 2) additionalAt = at;
    for (let i = 0; i < counts[section]; i++) {
      const owner = at;
      at = skipName(reply, at);
      if (at < 0 || at + 10 > reply.length) return undefined;
      const type = (reply[at] << 8) | reply[at + 1];
      const rdlength = (reply[at + 8] << 8) | reply[at + 9];
      const end = at + 10 + rdlength;
      if (end > reply.length) return undefined;
      if (type === TYPE.OPT) {
        if (section !== 2 || at !== owner + 1) return undefined;
        extendedRcode = reply[at + 4];
        // Ours goes in instead; records after it (there should be none) go with it, since
        // cutting it out from between them would move what their pointers point at.
        at = owner;
        break walk;
      }
      const ttl = readTtl(reply, at + 4);
      ttlAt.push(at + 4);
      ttls.push(ttl);
      minTtl = Math.min(minTtl, ttl);
      if (section === 1 && type === TYPE.SOA) {
        const minimum = soaMinimum(reply, at + 10, end);
        if (minimum === undefined) return undefined;
        negativeTtl = Math.min(ttl, minimum);
      }
      kept[section]++;
      at = end;
    }
  }
  if (extendedRcode !== 0) return undefined; // BADVERS and friends: not an answer to relay
  const bytes = reply.slice(0, at);
  bytes[6] = kept[0] >> 8;
  bytes[7] = kept[0] & 0xff;
  bytes[8] = kept[1] >> 8;
  bytes[9] = kept[1] & 0xff;
  bytes[10] = kept[2] >> 8;
  bytes[11] = kept[2] & 0xff;
  const rcode = reply[3] & 0xf;
  const answers = counts[0] > 0 && ttls.length > 0;
  const ttl = answers ? minTtl : Math.max(0, negativeTtl);
  return {
    bytes,
    rcode,
    truncated: (reply[2] & 0x02) !== 0,
    ttlAt,
    ttls,
    ttl: Number.isFinite(ttl) ? ttl : 0,
    additionalAt,
  };
}

/** A kept reply, ready to be handed to clients until it expires. */
export interface Kept {
  /** The upstream's reply (see {@link Upstreamed.bytes}); undefined for our own SERVFAIL. */
  reply?: Upstreamed;
  /** Clock reading when it arrived, ms. */
  at: number;
  /** Each record's TTL is served as at most this, seconds (the cache's cap). */
  maxTtl: number;
}

/**
 * The response to the client's `query` (raw bytes `request`) from `kept`, at clock `now`: the
 * client's id, RD and question, RA set, TTLs counted down by the whole seconds since it arrived,
 * an OPT when the client sent one. When it does not fit `limit`, the additional section goes
 * first (RFC 2181 9), then everything with TC set, so the client asks again over TCP.
 */
export function relayReply(
  request: Uint8Array,
  query: Query,
  kept: Kept,
  limit: number,
  now: number,
): Uint8Array {
  const withOpt = query.ednsSize > 0;
  const room = limit - (withOpt ? OPT_SIZE : 0);
  const r = kept.reply;
  let body: Uint8Array;
  let tc = false;
  if (!r) {
    body = request.slice(0, query.questionEnd);
    body.fill(0, 6, 12);
    body[3] = SERVFAIL;
  } else if (r.bytes.length <= room) {
    body = r.bytes.slice();
  } else if (r.additionalAt <= room) {
    body = r.bytes.slice(0, r.additionalAt);
    body[10] = body[11] = 0;
  } else {
    body = r.bytes.slice(0, query.questionEnd);
    body.fill(0, 6, 12);
    tc = true;
  }
  if (r) {
    const elapsed = Math.max(0, Math.floor((now - kept.at) / 1000));
    for (let i = 0; i < r.ttlAt.length && r.ttlAt[i] < body.length; i++) {
      writeTtl(body, r.ttlAt[i], Math.max(0, Math.min(r.ttls[i], kept.maxTtl) - elapsed));
    }
  }
  body[0] = request[0];
  body[1] = request[1];
  body.set(request.subarray(HEADER_SIZE, query.questionEnd), HEADER_SIZE);
  // QR, QUERY, AA cleared (we are not the authority), TC when cut, the client's RD.
  body[2] = 0x80 | (tc ? 0x02 : 0) | (query.rd ? 0x01 : 0);
  // RA; AD kept only for a client that showed it understands it (DO or AD), RFC 6840 5.8.
  const ad = r && (query.dnssecOk || (request[3] & 0x20)) ? r.bytes[3] & 0x20 : 0;
  body[3] = 0x80 | ad | (request[3] & 0x10) | (r ? r.rcode : SERVFAIL);
  if (!withOpt) return body;
  const out = new Uint8Array(body.length + OPT_SIZE);
  out.set(body);
  writeOpt(out, body.length, query.dnssecOk);
  const arcount = ((out[10] << 8) | out[11]) + 1;
  out[10] = arcount >> 8;
  out[11] = arcount & 0xff;
  return out;
}

function writeOpt(out: Uint8Array, at: number, dnssecOk: boolean): void {
  out[at] = 0; // root owner
  out[at + 1] = 0;
  out[at + 2] = TYPE.OPT;
  out[at + 3] = EDNS_UDP_MAX >> 8;
  out[at + 4] = EDNS_UDP_MAX & 0xff;
  out[at + 5] = 0; // extended rcode
  out[at + 6] = 0; // version
  out[at + 7] = dnssecOk ? 0x80 : 0;
  out[at + 8] = 0;
  out[at + 9] = 0; // rdlength
  out[at + 10] = 0;
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
}

function readTtl(buf: Uint8Array, at: number): number {
  // RFC 2181 8: a TTL with the top bit set is read as 0.
  const v = ((buf[at] << 24) >>> 0) + (buf[at + 1] << 16) + (buf[at + 2] << 8) + buf[at + 3];
  return v > 0x7fffffff ? 0 : v;
}

function writeTtl(buf: Uint8Array, at: number, ttl: number): void {
  buf[at] = (ttl >>> 24) & 0xff;
  buf[at + 1] = (ttl >>> 16) & 0xff;
  buf[at + 2] = (ttl >>> 8) & 0xff;
  buf[at + 3] = ttl & 0xff;
}

/** The SOA's minimum field, its rdata being `start..end`; undefined when the rdata is broken. */
function soaMinimum(buf: Uint8Array, start: number, end: number): number | undefined {
  let at = skipName(buf, start);
  if (at < 0) return undefined;
  at = skipName(buf, at);
  if (at < 0 || at + 20 !== end) return undefined;
  return readTtl(buf, at + 16);
}
