/**
 * Turns one request packet into one response packet: parse, resolve, encode, count. Shared by the
 * UDP and TCP transports, and free of sockets so it is tested on bytes.
 * @module
 */
import type { Counter } from "../metrics/mod.ts";
import type { Logger } from "../util/log.ts";
import type { ClusterView } from "../state/view.ts";
import { resolve, type Result, type Zone } from "./zone.ts";
import {
  CLASS,
  CLASSIC_UDP_MAX,
  EDNS_UDP_MAX,
  encodeFormErr,
  encodeReply,
  HEADER_SIZE,
  parseQuery,
  type Query,
  RCODE,
  type Reply,
} from "./wire.ts";

/** Largest DNS message: the TCP length prefix is 16 bits. */
export const MAX_MESSAGE = 65535;

/** What the answerer needs from the server. */
export interface AnswererDeps {
  view: ClusterView;
  zone: Zone;
  queries: Counter;
  log: Logger;
  /** Clock, ms. */
  now: () => number;
  /** How long an encoded answer is reused, ms; 0 turns the cache off. */
  cacheMs: number;
}

/** An encoded response kept for reuse, with what it counts as. */
interface Cached {
  bytes: Uint8Array;
  result: Result;
  expires: number;
}

/** Bound on cached answers, so a flood of random names cannot grow memory. */
const CACHE_ENTRIES = 4096;

/** Answers packets; holds one scratch buffer, so one instance per event loop is enough. */
export class Answerer {
  readonly #deps: AnswererDeps;
  readonly #scratch = new Uint8Array(MAX_MESSAGE);
  /** One label object per result, so counting does not allocate. */
  readonly #labels = new Map<Result, { result: Result }>();
  /**
   * Answers by question and size limit. Resolving reads and sorts the whole view and encoding
   * walks every record; a hit instead costs a map lookup and a copy, which is what keeps the
   * server near dnsmasq's rate. Staleness is bounded by `cacheMs`, well under the record TTL.
   */
  readonly #cache = new Map<string, Cached>();

  constructor(deps: AnswererDeps) {
    this.#deps = deps;
  }

  /** The response to `packet`, or undefined when it must be dropped. Never throws. */
  answer(packet: Uint8Array, udp: boolean): Uint8Array | undefined {
    try {
      return this.#answer(packet, udp);
    } catch (e) {
      this.#deps.log.error("dns query failed", { error: e });
      return undefined;
    }
  }

  #answer(packet: Uint8Array, udp: boolean): Uint8Array | undefined {
    const query = parseQuery(packet);
    if (query === "drop") {
      this.#count("formerr");
      return undefined;
    }
    if (query === "formerr") {
      this.#count("formerr");
      return encodeFormErr(packet);
    }
    const { view, zone, cacheMs } = this.#deps;
    const limit = udp ? udpLimit(query.ednsSize) : MAX_MESSAGE;
    // Other opcodes (NOTIFY, UPDATE…) are not implemented (RFC 1035 4.1.1); other classes
    // (CHAOS…) are not ours to serve.
    if (query.opcode !== 0) {
      this.#count("notimp");
      return encodeReply(packet, query, NOTIMP, zone.apex, limit, zone.ttl, this.#scratch);
    }
    if (query.class !== CLASS.IN && query.class !== CLASS.ANY) {
      this.#count("refused");
      return encodeReply(packet, query, REFUSED, zone.apex, limit, zone.ttl, this.#scratch);
    }
    const key = `${query.type} ${limit} ${query.ednsSize > 0 ? 1 : 0} ${query.name}`;
    const now = cacheMs > 0 ? this.#deps.now() : 0;
    const hit = cacheMs > 0 ? this.#cache.get(key) : undefined;
    if (hit && hit.expires > now) {
      this.#count(hit.result);
      return reuse(hit.bytes, packet, query);
    }
    const { reply, result } = resolve(view, zone, query.name, query.type);
    this.#count(result);
    const bytes = encodeReply(packet, query, reply, zone.apex, limit, zone.ttl, this.#scratch);
    if (cacheMs > 0) {
      if (this.#cache.size >= CACHE_ENTRIES) this.#cache.clear();
      this.#cache.set(key, { bytes, result, expires: now + cacheMs });
    }
    return bytes;
  }

  #count(result: Result): void {
    let labels = this.#labels.get(result);
    if (!labels) this.#labels.set(result, labels = { result });
    this.#deps.queries.inc(labels);
  }
}

/** A cached response made to answer `packet`: its id, RD flag and the question's letter case. */
function reuse(cached: Uint8Array, packet: Uint8Array, query: Query): Uint8Array {
  const out = cached.slice();
  out.set(packet.subarray(0, 2));
  out[2] = (out[2] & 0xfe) | (query.rd ? 1 : 0);
  out.set(packet.subarray(HEADER_SIZE, query.questionEnd), HEADER_SIZE);
  return out;
}

const NOTIMP: Reply = {
  rcode: RCODE.NOTIMP,
  aa: false,
  answers: [],
  authority: [],
  additional: [],
};

const REFUSED: Reply = {
  rcode: RCODE.REFUSED,
  aa: false,
  answers: [],
  authority: [],
  additional: [],
};

/** The UDP answer size a client accepts, capped to avoid IP fragmentation. */
export function udpLimit(ednsSize: number): number {
  if (ednsSize === 0) return CLASSIC_UDP_MAX;
  return Math.min(Math.max(ednsSize, CLASSIC_UDP_MAX), EDNS_UDP_MAX);
}
