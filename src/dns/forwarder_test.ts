import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { silentLogger } from "../util/log.ts";
import {
  Forwarded,
  FORWARDED_METRIC,
  Forwarder,
  type ForwarderOptions,
  UPSTREAM_FAILURES_METRIC,
  UPSTREAM_QUERIES_METRIC,
} from "./forwarder.ts";
import { udpLimit } from "./answer.ts";
import { TestUpstream } from "./test_upstream.ts";
import { addOpt, queryPacket, readResponse } from "./test_util.ts";
import { parseUpstream } from "./upstreams.ts";
import { parseQuery, type Query, RCODE, TYPE } from "./wire.ts";

const LAN = new Uint8Array([192, 168, 1, 20]);
const PUBLIC = new Uint8Array([203, 0, 113, 9]);

/** A forwarder to `ups`, on a clock the test moves, with its metrics. */
function forwarder(ups: TestUpstream[], extra: Partial<ForwarderOptions> = {}) {
  const clock = { now: 1_000_000 };
  const metrics = new Registry();
  const f = new Forwarder({
    upstreams: () => ups.map((u) => parseUpstream(u.address)),
    log: silentLogger,
    metrics,
    now: () => clock.now,
    attemptMs: 300,
    deadlineMs: 1_500,
    ...extra,
  });
  const counted = (name: string, labels: Record<string, string>) =>
    metrics.counter(name, "").get(labels);
  return { f, clock, counted };
}

/** Asks `f` as a client at `peer` would, over UDP unless `tcp`. */
async function ask(
  f: Forwarder,
  packet: Uint8Array,
  peer = LAN,
  tcp = false,
): Promise<ReturnType<typeof readResponse> | "refused"> {
  const query = parseQuery(packet) as Query;
  const limit = tcp ? 65535 : udpLimit(query.ednsSize);
  const out: Forwarded = f.answer(packet, query, limit, peer, tcp);
  if (out === "refused") return "refused";
  return readResponse(await out);
}

async function withUpstreams(
  n: number,
  fn: (ups: TestUpstream[]) => Promise<void>,
): Promise<void> {
  const ups = Array.from({ length: n }, () => TestUpstream.start());
  try {
    await fn(ups);
  } finally {
    for (const u of ups) await u[Symbol.asyncDispose]();
  }
}

Deno.test("an answer is forwarded once, then served from cache with its TTL counted down", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("www.example.org", { addresses: ["93.184.216.34"], ttl: 300 });
    const { f, clock, counted } = forwarder([up]);
    const first = await ask(f, queryPacket(0x1234, "www.example.org", TYPE.A));
    assert.ok(first !== "refused");
    assert.equal(first.id, 0x1234);
    assert.equal(first.rcode, RCODE.NOERROR);
    assert.deepEqual(first.answers.map((a) => [a.data, a.ttl]), [["93.184.216.34", 300]]);
    clock.now += 7_400;
    const second = await ask(f, queryPacket(0x4321, "WWW.Example.ORG", TYPE.A));
    assert.ok(second !== "refused");
    assert.equal(second.id, 0x4321);
    assert.equal(second.question, "WWW.Example.ORG", "the client's own question, case and all");
    assert.deepEqual(second.answers.map((a) => [a.data, a.ttl]), [["93.184.216.34", 293]]);
    assert.equal(up.count("www.example.org"), 1);
    assert.equal(counted(FORWARDED_METRIC, { answer: "upstream" }), 1);
    assert.equal(counted(FORWARDED_METRIC, { answer: "cached" }), 1);
    clock.now += 293_000;
    await ask(f, queryPacket(3, "www.example.org", TYPE.A));
    assert.equal(up.count("www.example.org"), 2, "asked again once the TTL ran out");
  });
});

Deno.test("NXDOMAIN passes through with its SOA and is cached for the SOA minimum", async () => {
  await withUpstreams(1, async ([up]) => {
    const { f, clock } = forwarder([up]);
    const r = await ask(f, queryPacket(1, "nope.example", TYPE.A));
    assert.ok(r !== "refused");
    assert.equal(r.rcode, RCODE.NXDOMAIN);
    assert.equal(r.authority[0].type, TYPE.SOA);
    clock.now += 59_000;
    const again = await ask(f, queryPacket(2, "nope.example", TYPE.A));
    assert.ok(again !== "refused");
    assert.equal(again.rcode, RCODE.NXDOMAIN);
    assert.equal(again.authority[0].ttl, 300 - 59);
    assert.equal(up.count("nope.example"), 1);
    clock.now += 1_000; // min(SOA TTL 300, minimum 60) has passed
    await ask(f, queryPacket(3, "nope.example", TYPE.A));
    assert.equal(up.count("nope.example"), 2);
  });
});

Deno.test("TTLs are capped, and a zero TTL is not cached", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("long.example", { addresses: ["192.0.2.1"], ttl: 604_800 });
    up.names.set("zero.example", { addresses: ["192.0.2.2"], ttl: 0 });
    const { f } = forwarder([up], { maxTtl: 3600 });
    const long = await ask(f, queryPacket(1, "long.example", TYPE.A));
    assert.ok(long !== "refused");
    const cached = await ask(f, queryPacket(2, "long.example", TYPE.A));
    assert.ok(cached !== "refused");
    assert.equal(cached.answers[0].ttl, 3600);
    await ask(f, queryPacket(3, "zero.example", TYPE.A));
    await ask(f, queryPacket(4, "zero.example", TYPE.A));
    assert.equal(up.count("zero.example"), 2);
  });
});

Deno.test("a truncated UDP reply is fetched again over TCP; a big answer truncates to a UDP client", async () => {
  await withUpstreams(1, async ([up]) => {
    const many = Array.from({ length: 30 }, (_, i) => `192.0.2.${i + 1}`);
    up.names.set("big.example", { addresses: many, ttl: 60, truncate: true });
    const { f } = forwarder([up]);
    const edns = await ask(f, addOpt(queryPacket(1, "big.example", TYPE.A), 4096));
    assert.ok(edns !== "refused");
    assert.equal(
      edns.tc,
      false,
      "30 uncompressed A records fit the 1232 bytes an EDNS client is sent",
    );
    assert.equal(edns.answers.length, 30);
    assert.equal(edns.additional.at(-1)?.type, TYPE.OPT);
    assert.deepEqual([up.udpQueries, up.tcpQueries], [1, 1]);
    const udp = await ask(f, queryPacket(2, "big.example", TYPE.A));
    assert.ok(udp !== "refused");
    assert.equal(udp.tc, true, "they do not fit 512 bytes");
    assert.equal(udp.answers.length, 0);
    const tcp = await ask(f, queryPacket(3, "big.example", TYPE.A), LAN, true);
    assert.ok(tcp !== "refused");
    assert.equal(tcp.answers.length, 30);
    assert.deepEqual([up.udpQueries, up.tcpQueries], [1, 1], "both from cache");
  });
});

Deno.test("a query that came over TCP is forwarded over TCP", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("www.example.org", { addresses: ["192.0.2.1"], ttl: 60 });
    const { f } = forwarder([up]);
    const r = await ask(f, queryPacket(1, "www.example.org", TYPE.A), LAN, true);
    assert.ok(r !== "refused");
    assert.deepEqual(r.answers.map((a) => a.data), ["192.0.2.1"]);
    assert.deepEqual([up.udpQueries, up.tcpQueries], [0, 1]);
  });
});

Deno.test("replies with another id or from another port are ignored as forgeries", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("bank.example", { addresses: ["198.51.100.7"], ttl: 60, spoofFirst: true });
    const { f, counted } = forwarder([up]);
    const r = await ask(f, queryPacket(1, "bank.example", TYPE.A));
    assert.ok(r !== "refused");
    assert.deepEqual(r.answers.map((a) => a.data), ["198.51.100.7"]);
    assert.equal(counted(UPSTREAM_FAILURES_METRIC, { upstream: up.address, reason: "timeout" }), 0);
  });
});

Deno.test("a dead upstream gives SERVFAIL by the deadline, never an answer", async () => {
  await withUpstreams(1, async ([up]) => {
    up.silent = true;
    const { f, counted } = forwarder([up]);
    const started = Date.now();
    const r = await ask(f, queryPacket(1, "www.example.org", TYPE.A));
    assert.ok(r !== "refused");
    assert.equal(r.rcode, 2);
    assert.equal(r.answers.length, 0);
    assert.ok(Date.now() - started < 1_500 + 500, "within the deadline");
    assert.equal(counted(UPSTREAM_FAILURES_METRIC, { upstream: up.address, reason: "timeout" }), 2);
    assert.equal(counted(FORWARDED_METRIC, { answer: "servfail" }), 1);
  });
});

Deno.test("the next upstream is asked on timeout, SERVFAIL or REFUSED, and the healthy one is preferred after", async () => {
  await withUpstreams(3, async ([dead, failing, good]) => {
    dead.silent = true;
    failing.names.set("a.example", { addresses: [], ttl: 60, rcode: "SERVFAIL" });
    good.names.set("a.example", { addresses: ["192.0.2.10"], ttl: 60 });
    good.names.set("b.example", { addresses: ["192.0.2.11"], ttl: 60 });
    const { f, counted } = forwarder([dead, failing, good]);
    const r = await ask(f, queryPacket(1, "a.example", TYPE.A));
    assert.ok(r !== "refused");
    assert.deepEqual(r.answers.map((a) => a.data), ["192.0.2.10"]);
    assert.equal(
      counted(UPSTREAM_FAILURES_METRIC, { upstream: failing.address, reason: "servfail" }),
      1,
    );
    const b = await ask(f, queryPacket(2, "b.example", TYPE.A));
    assert.ok(b !== "refused");
    assert.deepEqual(b.answers.map((a) => a.data), ["192.0.2.11"]);
    assert.equal(dead.count("b.example") + failing.count("b.example"), 0, "failed ones asked last");
    assert.equal(counted(UPSTREAM_QUERIES_METRIC, { upstream: good.address }), 2);
  });
});

Deno.test("identical questions in flight share one upstream query", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("slow.example", { addresses: ["192.0.2.5"], ttl: 60, delayMs: 150 });
    const { f } = forwarder([up]);
    const all = await Promise.all(
      Array.from({ length: 10 }, (_, i) => ask(f, queryPacket(i, "slow.example", TYPE.A))),
    );
    assert.deepEqual(all.map((r) => r !== "refused" && r.id), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(up.count("slow.example"), 1);
  });
});

Deno.test("past the cap on questions in flight, a new one gets SERVFAIL at once", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("slow1.example", { addresses: ["192.0.2.1"], ttl: 60, delayMs: 200 });
    up.names.set("slow2.example", { addresses: ["192.0.2.2"], ttl: 60, delayMs: 200 });
    const { f } = forwarder([up], { maxInflight: 1 });
    const first = ask(f, queryPacket(1, "slow1.example", TYPE.A));
    const shared = ask(f, queryPacket(2, "slow1.example", TYPE.A));
    const refused = await ask(f, queryPacket(3, "slow2.example", TYPE.A));
    assert.ok(refused !== "refused");
    assert.equal(refused.rcode, 2);
    for (const r of await Promise.all([first, shared])) {
      assert.ok(r !== "refused");
      assert.deepEqual(r.answers.map((a) => a.data), ["192.0.2.1"], "the one in flight is shared");
    }
    assert.equal(up.count("slow2.example"), 0);
  });
});

Deno.test("recursion is refused to public clients, for zone transfers and without upstreams", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("www.example.org", { addresses: ["192.0.2.1"], ttl: 60 });
    const { f } = forwarder([up]);
    assert.equal(await ask(f, queryPacket(1, "www.example.org", TYPE.A), PUBLIC), "refused");
    assert.equal(await ask(f, queryPacket(2, "example.org", TYPE.AXFR)), "refused");
    assert.equal(up.count("www.example.org"), 0);
    const none = new Forwarder({ upstreams: () => [], log: silentLogger });
    assert.equal(await ask(none, queryPacket(3, "www.example.org", TYPE.A)), "refused");
  });
});

Deno.test("an EDNS client gets our OPT with its DO bit; a plain one gets none", async () => {
  await withUpstreams(1, async ([up]) => {
    up.names.set("www.example.org", { addresses: ["192.0.2.1"], ttl: 60 });
    const { f } = forwarder([up]);
    const plain = await ask(f, queryPacket(1, "www.example.org", TYPE.A));
    assert.ok(plain !== "refused");
    assert.equal(plain.additional.length, 0);
    const edns = await ask(f, addOpt(queryPacket(2, "www.example.org", TYPE.A), 1232, 0, true));
    assert.ok(edns !== "refused");
    assert.deepEqual(edns.additional.map((r) => r.data), ["udp=1232 ercode=0 version=0 do=1"]);
    assert.equal(edns.answers.length, 1);
  });
});
