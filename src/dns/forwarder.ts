/**
 * Forwarding for names outside the zone, so a node can be a home's only DNS server: answers come
 * from the upstream resolvers (or, within their TTLs, from a cache), never made up. Built like a
 * small dnsmasq: identical questions in flight share one upstream query; upstreams are tried
 * fastest healthy first, the next on timeout, SERVFAIL, REFUSED or garbage; a truncated UDP
 * reply is fetched again over TCP; a client gets SERVFAIL by a deadline rather than silence.
 * Only clients on private and local networks are served (see {@link mayRecurse}).
 * @module
 */
import { Counter, type Registry } from "../metrics/mod.ts";
import type { Logger } from "../util/log.ts";
import { TtlCache } from "./cache.ts";
import { type Exchange, tcpExchange, udpExchange, UpstreamTimeout } from "./exchange.ts";
import { mayRecurse } from "./private.ts";
import { type Kept, relayReply, SERVFAIL, type Upstreamed } from "./relay.ts";
import type { Upstream } from "./upstreams.ts";
import { CLASS, HEADER_SIZE, type Query, RCODE, TYPE } from "./wire.ts";

/** Client queries answered by forwarding, by `answer`: cached, upstream or servfail. */
export const FORWARDED_METRIC = "fossora_dns_forwarded_total";
/** Queries sent to an upstream, by `upstream`. */
export const UPSTREAM_QUERIES_METRIC = "fossora_dns_upstream_queries_total";
/** Upstream queries that gave no usable answer, by `upstream` and `reason`. */
export const UPSTREAM_FAILURES_METRIC = "fossora_dns_upstream_failures_total";

/** What the forwarder needs. */
export interface ForwarderOptions {
  /** The upstreams to use now (they may change while running). */
  upstreams: () => readonly Upstream[];
  log: Logger;
  metrics?: Registry;
  /** Clock, ms; default `Date.now`. */
  now?: () => number;
  /** Most cached replies; default 10 000. */
  cacheEntries?: number;
  /** Longest a reply is cached and the largest TTL handed out, s; default 86 400. */
  maxTtl?: number;
  /** Longest a negative reply (NXDOMAIN, NODATA) is cached, s; default 3 600. */
  maxNegativeTtl?: number;
  /** How long a SERVFAIL of ours is repeated before the upstreams are asked again, ms; 1 000. */
  failMs?: number;
  /** How long one upstream gets to answer, ms; default 1 500. */
  attemptMs?: number;
  /** How long a client waits at most before getting SERVFAIL, ms; default 4 000. */
  deadlineMs?: number;
  /**
   * Most distinct questions waiting for upstreams at once; past it new ones get SERVFAIL at
   * once, so a flood of random names cannot open a socket each without bound. Default 512.
   */
  maxInflight?: number;
  /** Exchanges, for tests; default real UDP and TCP. */
  udp?: Exchange;
  tcp?: Exchange;
}

/** What the forwarder makes of a query: a reply now, one later, or "not mine to answer". */
export type Forwarded = Uint8Array | Promise<Uint8Array> | "refused";

/** How an upstream has been doing, to ask the fast healthy ones first. */
interface Health {
  /** Smoothed round-trip time, ms; 0 until measured, so each is tried once. */
  srtt: number;
  /** When it last failed, ms; 0 for never or since answered. */
  failedAt: number;
}

/** How often "no upstream answered" is logged as a warning at most. */
const WARN_EVERY_MS = 10_000;

/** An upstream that failed this recently is asked after the others. */
const SICK_MS = 30_000;

/** Forwards queries for names outside the zone; see the module doc. */
export class Forwarder {
  readonly #o: ForwarderOptions;
  readonly #now: () => number;
  readonly #cache: TtlCache<Kept>;
  readonly #inflight = new Map<string, Promise<Kept>>();
  readonly #health = new Map<string, Health>();
  readonly #forwarded: Counter;
  readonly #sent: Counter;
  readonly #failures: Counter;
  readonly #maxTtl: number;
  readonly #maxNegativeTtl: number;
  #warnedAt = -Infinity;

  constructor(o: ForwarderOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#cache = new TtlCache(o.cacheEntries ?? 10_000, this.#now);
    this.#maxTtl = o.maxTtl ?? 86_400;
    this.#maxNegativeTtl = o.maxNegativeTtl ?? 3_600;
    const counter = (name: string, help: string) =>
      o.metrics ? o.metrics.counter(name, help) : new Counter(name, help);
    this.#forwarded = counter(FORWARDED_METRIC, "DNS queries answered by forwarding, by answer.");
    this.#sent = counter(UPSTREAM_QUERIES_METRIC, "Queries sent to upstream resolvers.");
    this.#failures = counter(
      UPSTREAM_FAILURES_METRIC,
      "Upstream queries without a usable answer, by reason.",
    );
  }

  /**
   * The reply to `query` (raw `request`) from a client at `peer` (4 or 16 address bytes), at most
   * `limit` bytes. "refused" when it is not ours to forward: a client outside private networks,
   * no upstream, a zone transfer or a class other than IN. `request` may be reused by the
   * caller as soon as this returns.
   */
  answer(
    request: Uint8Array,
    query: Query,
    limit: number,
    peer: Uint8Array,
    tcp: boolean,
  ): Forwarded {
    if (!mayRecurse(peer)) return "refused";
    if (query.type === TYPE.AXFR || query.type === TYPE.IXFR || query.class !== CLASS.IN) {
      return "refused";
    }
    if (this.#o.upstreams().length === 0) return "refused";
    const key = query.type + (query.dnssecOk ? " do " : " ") + query.name;
    const kept = this.#cache.get(key);
    if (kept) {
      this.#forwarded.inc(kept.reply ? CACHED : SERVFAILED);
      return relayReply(request, query, kept, limit, this.#now());
    }
    let pending = this.#inflight.get(key);
    if (!pending && this.#inflight.size >= (this.#o.maxInflight ?? 512)) {
      this.#forwarded.inc(SERVFAILED);
      return relayReply(request, query, { at: 0, maxTtl: 0 }, limit, 0);
    }
    if (!pending) {
      const question = request.slice(HEADER_SIZE, query.questionEnd);
      pending = this.#resolve(key, question, query.dnssecOk, tcp)
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    const head = request.slice(0, query.questionEnd);
    return pending.then((kept) => {
      this.#forwarded.inc(kept.reply ? UPSTREAM : SERVFAILED);
      return relayReply(head, query, kept, limit, this.#now());
    });
  }

  /** Asks the upstreams until one answers or the deadline passes; caches what it got. */
  async #resolve(
    key: string,
    question: Uint8Array,
    dnssecOk: boolean,
    tcp: boolean,
  ): Promise<Kept> {
    const start = this.#now();
    const deadline = start + (this.#o.deadlineMs ?? 4_000);
    const order = this.#ordered(this.#o.upstreams());
    const reasons: string[] = [];
    // Each upstream twice at most: a lost datagram deserves a second try before SERVFAIL.
    for (let i = 0; i < order.length * 2; i++) {
      const up = order[i % order.length];
      const left = deadline - this.#now();
      if (left <= 0) break;
      const reply = await this.#ask(up, question, dnssecOk, tcp, left, reasons);
      if (!reply) continue;
      const negative = reply.ttlAt.length === 0 || reply.rcode === RCODE.NXDOMAIN ||
        (reply.bytes[6] | reply.bytes[7]) === 0;
      const maxTtl = negative ? this.#maxNegativeTtl : this.#maxTtl;
      const kept: Kept = { reply, at: this.#now(), maxTtl };
      this.#cache.set(key, kept, Math.min(reply.ttl, maxTtl) * 1000);
      return kept;
    }
    // Once every few seconds at most: with the upstreams down, every name would say it again.
    const loud = this.#now() - this.#warnedAt >= WARN_EVERY_MS;
    if (loud) this.#warnedAt = this.#now();
    this.#o.log[loud ? "warn" : "debug"]("dns: no upstream answered; SERVFAIL", {
      question: key,
      tried: reasons,
      ms: this.#now() - start,
    });
    const failed: Kept = { at: this.#now(), maxTtl: 0 };
    this.#cache.set(key, failed, this.#o.failMs ?? 1_000);
    return failed;
  }

  /** One upstream, once (UDP, then TCP when truncated); undefined with the reason noted. */
  async #ask(
    up: Upstream,
    question: Uint8Array,
    dnssecOk: boolean,
    tcp: boolean,
    left: number,
    reasons: string[],
  ): Promise<Upstreamed | undefined> {
    const health = this.#healthOf(up);
    const timeout = Math.min(left, this.#o.attemptMs ?? 1_500);
    const sentAt = this.#now();
    const labels = { upstream: up.label };
    const fail = (reason: string) => {
      health.failedAt = this.#now();
      this.#failures.inc({ upstream: up.label, reason });
      reasons.push(`${up.label}: ${reason}`);
      return undefined;
    };
    try {
      this.#sent.inc(labels);
      let reply = await (tcp ? this.#tcp : this.#udp)(up, question, dnssecOk, timeout);
      if (reply.truncated && !tcp) {
        this.#sent.inc(labels);
        const rest = Math.max(1, Math.min(timeout, sentAt + left - this.#now()));
        reply = await this.#tcp(up, question, dnssecOk, rest);
      }
      const rtt = this.#now() - sentAt;
      health.srtt = health.srtt ? Math.round(health.srtt * 0.7 + rtt * 0.3) : Math.max(1, rtt);
      if (reply.rcode === SERVFAIL || reply.rcode === RCODE.REFUSED) {
        return fail(reply.rcode === SERVFAIL ? "servfail" : "refused");
      }
      if (reply.rcode !== RCODE.NOERROR && reply.rcode !== RCODE.NXDOMAIN) {
        return fail(`rcode ${reply.rcode}`);
      }
      health.failedAt = 0;
      return reply;
    } catch (e) {
      if (e instanceof UpstreamTimeout) return fail("timeout");
      this.#o.log.debug("dns: upstream query failed", { upstream: up.label, error: e });
      return fail("error");
    }
  }

  get #udp(): Exchange {
    return this.#o.udp ?? udpExchange;
  }

  get #tcp(): Exchange {
    return this.#o.tcp ?? tcpExchange;
  }

  #healthOf(up: Upstream): Health {
    let h = this.#health.get(up.label);
    if (!h) this.#health.set(up.label, h = { srtt: 0, failedAt: 0 });
    return h;
  }

  /** Healthy before recently failed, then fastest first; ties keep the configured order. */
  #ordered(ups: readonly Upstream[]): Upstream[] {
    const now = this.#now();
    const rank = (u: Upstream) => {
      const h = this.#healthOf(u);
      return (h.failedAt && now - h.failedAt < SICK_MS ? 1e9 : 0) + h.srtt;
    };
    return [...ups].sort((a, b) => rank(a) - rank(b));
  }
}

const CACHED = { answer: "cached" };
const UPSTREAM = { answer: "upstream" };
const SERVFAILED = { answer: "servfail" };
