/**
 * Turns one request packet into one response packet: parse, resolve, encode, count. Shared by the
 * UDP and TCP transports, and free of sockets so it is tested on bytes.
 * @module
 */
import type { Counter } from "../metrics/mod.ts";
import type { Forwarder } from "./forwarder.ts";
import type { Logger } from "../util/log.ts";
import type { ClusterView } from "../state/view.ts";
import { type Resolution, resolve, type Result, type Zone } from "./zone.ts";
import {
  CLASS,
  CLASSIC_UDP_MAX,
  EDNS_UDP_MAX,
  encodeFormErr,
  encodeReply,
  HEADER_SIZE,
  ipv4Bytes,
  parseQuery,
  type Query,
  RCODE,
  type Reply,
  TYPE,
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
  /** Answers names outside the zone; without it they are REFUSED. */
  forward?: Forwarder;
  /**
   * The address of `name` (outside the zone) for the client at `peer` when it is a container of
   * a stack and the name one of that stack's services (`db`), else undefined. Asked before
   * forwarding, so a container finds a service deployed after the container was made.
   */
  stackName?: (name: string, peer: string) => string | undefined;
}

/** A reply now, one later (forwarded to an upstream), or undefined to send nothing. */
export type Answered = Uint8Array | Promise<Uint8Array | undefined> | undefined;

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

  readonly #suffix: string;

  constructor(deps: AnswererDeps) {
    this.#deps = deps;
    this.#suffix = "." + deps.zone.apex;
  }

  /**
   * The response to `packet` from a client at `peer` (4 or 16 address bytes), or undefined when
   * it must be dropped. Never throws, and a promised reply never rejects.
   */
  answer(packet: Uint8Array, udp: boolean, peer: Uint8Array): Answered {
    try {
      return this.#answer(packet, udp, peer);
    } catch (e) {
      this.#deps.log.error("dns query failed", { error: e });
      return undefined;
    }
  }

  /**
   * Writes the UDP response to `packet` into `out` (at least {@link EDNS_UDP_MAX} bytes) and
   * returns its length, 0 when nothing must be sent, or the reply later when it is forwarded.
   * Never throws, and a promised reply never rejects. Saves the UDP path a copy per query,
   * which matters at tens of thousands of queries a second.
   */
  answerInto(
    packet: Uint8Array,
    out: Uint8Array,
    peer: Uint8Array,
  ): number | Promise<Uint8Array | undefined> {
    try {
      const query = parseQuery(packet);
      if (typeof query !== "string" && this.#plain(query) && this.#cacheable(query)) {
        const hit = this.#hit(query, udpLimit(query.ednsSize));
        if (hit) {
          out.set(hit.bytes);
          patch(out, packet, query);
          this.#count(hit.result);
          return hit.bytes.length;
        }
      }
      const reply = this.#answer(packet, true, peer, query);
      if (!reply) return 0;
      if (reply instanceof Promise) return reply;
      out.set(reply);
      return reply.length;
    } catch (e) {
      this.#deps.log.error("dns query failed", { error: e });
      return 0;
    }
  }

  #answer(
    packet: Uint8Array,
    udp: boolean,
    peer: Uint8Array,
    query = parseQuery(packet),
  ): Answered {
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
    const special = this.#special(query);
    if (special) {
      this.#count(special.result);
      return encodeReply(packet, query, special.reply, zone.apex, limit, zone.ttl, this.#scratch);
    }
    const stack = this.#stackAnswer(query, peer);
    if (stack) {
      this.#count(stack.result);
      return encodeReply(packet, query, stack.reply, zone.apex, limit, zone.ttl, this.#scratch);
    }
    if (this.#forwards(query)) {
      // Never through the answer cache below: whether a name is forwarded depends on who asks.
      const forwarded = this.#deps.forward!.answer(packet, query, limit, peer, !udp);
      if (forwarded !== "refused") {
        this.#count("forwarded");
        if (!(forwarded instanceof Promise)) return forwarded;
        return forwarded.catch((e) =>
          void this.#deps.log.error("dns forward failed", { error: e })
        );
      }
      this.#count("refused");
      return encodeReply(packet, query, REFUSED, zone.apex, limit, zone.ttl, this.#scratch);
    }
    const hit = this.#cacheable(query) ? this.#hit(query, limit) : undefined;
    if (hit) {
      this.#count(hit.result);
      const out = hit.bytes.slice();
      patch(out, packet, query);
      return out;
    }
    const { reply, result } = resolve(view, zone, query.name, query.type);
    this.#count(result);
    const bytes = encodeReply(packet, query, reply, zone.apex, limit, zone.ttl, this.#scratch);
    if (cacheMs > 0) {
      if (this.#cache.size >= CACHE_ENTRIES) this.#cache.clear();
      const expires = this.#deps.now() + cacheMs;
      this.#cache.set(cacheKey(query, limit), { bytes, result, expires });
    }
    return bytes;
  }

  /** True when the query is answered from the zone (and so may be cached). */
  #plain(query: Query): boolean {
    return !query.formErr && query.ednsVersion === 0 && query.opcode === 0 &&
      (query.class === CLASS.IN || query.class === CLASS.ANY);
  }

  #outside(query: Query): boolean {
    return query.name !== this.#deps.zone.apex && !query.name.endsWith(this.#suffix);
  }

  /** True when the query is for a name outside the zone and forwarding is on. */
  #forwards(query: Query): boolean {
    return this.#deps.forward !== undefined && this.#outside(query);
  }

  /** False when the answer may depend on who asks (a stack's name, a forwarded name). */
  #cacheable(query: Query): boolean {
    return !this.#outside(query) || (!this.#deps.forward && !this.#deps.stackName);
  }

  /** A stack's service for one of its containers: its address, or NODATA for other types. */
  #stackAnswer(query: Query, peer: Uint8Array): Resolution | undefined {
    const source = ipv4Text(peer);
    if (!this.#deps.stackName || !source || !this.#outside(query)) return undefined;
    const address = this.#deps.stackName(query.name, source);
    const bytes = address === undefined ? undefined : ipv4Bytes(address);
    if (!bytes) return undefined;
    const a = query.type === TYPE.A || query.type === TYPE.ANY;
    return {
      reply: {
        rcode: RCODE.NOERROR,
        aa: false,
        answers: a ? [{ type: TYPE.A, name: query.name, address: bytes }] : [],
        authority: [],
        additional: [],
      },
      result: a ? "noerror" : "nodata",
    };
  }

  /** The fixed answers to queries the zone is not asked about, in the order RFCs check them. */
  #special(query: Query): Resolution | undefined {
    if (query.formErr) return { reply: FORMERR, result: "formerr" };
    // RFC 6891 6.1.3: we speak EDNS version 0 only, and say so before looking at anything else.
    if (query.ednsVersion > 0) return { reply: BADVERS, result: "badvers" };
    // Other opcodes (NOTIFY, UPDATE…) are not implemented (RFC 1035 4.1.1); other classes
    // (CHAOS…) are not ours to serve.
    if (query.opcode !== 0) return { reply: NOTIMP, result: "notimp" };
    if (query.class !== CLASS.IN && query.class !== CLASS.ANY) {
      return { reply: REFUSED, result: "refused" };
    }
    return undefined;
  }

  /** A cached answer still fresh for this question and size limit. */
  #hit(query: Query, limit: number): Cached | undefined {
    if (this.#deps.cacheMs <= 0) return undefined;
    const hit = this.#cache.get(cacheKey(query, limit));
    return hit && hit.expires > this.#deps.now() ? hit : undefined;
  }

  #count(result: Result): void {
    let labels = this.#labels.get(result);
    if (!labels) this.#labels.set(result, labels = { result });
    this.#deps.queries.inc(labels);
  }
}

/** What an encoded answer depends on besides the name: type, size limit, whether and how OPT. */
function cacheKey(query: Query, limit: number): string {
  const opt = query.ednsSize === 0 ? 0 : query.dnssecOk ? 2 : 1;
  return query.type + " " + limit + " " + opt + " " + query.name;
}

/** A peer's IPv4 address (also one mapped into IPv6), dotted; stacks' networks are IPv4. */
function ipv4Text(ip: Uint8Array): string | undefined {
  if (ip.length === 4) return ip.join(".");
  const mapped = ip.length === 16 && ip.subarray(0, 10).every((b) => b === 0) &&
    ip[10] === 0xff && ip[11] === 0xff;
  return mapped ? ip.subarray(12).join(".") : undefined;
}

/** Makes a cached response answer `packet`: its id, RD flag and the question's letter case. */
function patch(out: Uint8Array, packet: Uint8Array, query: Query): void {
  out[0] = packet[0];
  out[1] = packet[1];
  out[2] = (out[2] & 0xfe) | (query.rd ? 1 : 0);
  out.set(packet.subarray(HEADER_SIZE, query.questionEnd), HEADER_SIZE);
}

const FORMERR: Reply = {
  rcode: RCODE.FORMERR,
  aa: false,
  answers: [],
  authority: [],
  additional: [],
};

const BADVERS: Reply = {
  rcode: RCODE.BADVERS,
  aa: false,
  answers: [],
  authority: [],
  additional: [],
};

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
