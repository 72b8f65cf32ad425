import assert from "node:assert/strict";
import { Counter } from "../metrics/mod.ts";
import { silentLogger } from "../util/log.ts";
import { Answerer, type AnswererDeps } from "./answer.ts";
import { Forwarder } from "./forwarder.ts";
import { parseUpstream } from "./upstreams.ts";
import { EDNS_UDP_MAX, RCODE, TYPE } from "./wire.ts";
import { addOpt, DOMAIN, queryPacket, readResponse, sampleView } from "./test_util.ts";

function answerer(over: Partial<AnswererDeps> = {}): { a: Answerer; queries: Counter } {
  const queries = new Counter("q", "");
  const a = new Answerer({
    view: sampleView(),
    zone: { apex: DOMAIN, ttl: 5 },
    queries,
    log: silentLogger,
    now: () => 0,
    cacheMs: 1000,
    ...over,
  });
  return { a, queries };
}

/** A client on the LAN. */
const LAN = new Uint8Array([192, 168, 1, 20]);

const notimp = queryPacket(9, `web.${DOMAIN}`, TYPE.A);
notimp[2] |= 2 << 3;

const PACKETS: [string, Uint8Array][] = [
  ["A", queryPacket(1, `web.${DOMAIN}`, TYPE.A)],
  ["A again (cached), other case", queryPacket(2, `WEB.${DOMAIN}`, TYPE.A)],
  ["with EDNS", addOpt(queryPacket(3, `web.${DOMAIN}`, TYPE.A))],
  ["with DO", addOpt(queryPacket(4, `web.${DOMAIN}`, TYPE.A), 1232, 0, true)],
  ["EDNS version 1", addOpt(queryPacket(5, `web.${DOMAIN}`, TYPE.A), 1232, 1)],
  ["two OPTs", addOpt(addOpt(queryPacket(6, `web.${DOMAIN}`, TYPE.A)))],
  ["AXFR", queryPacket(7, DOMAIN, TYPE.AXFR)],
  ["NXDOMAIN", queryPacket(8, `nope.${DOMAIN}`, TYPE.A)],
  ["NOTIMP", notimp],
  ["unreadable question", new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12])],
];

Deno.test("answerInto (the batched UDP path) writes exactly what answer gives, and counts alike", () => {
  const one = answerer();
  const two = answerer();
  const out = new Uint8Array(EDNS_UDP_MAX);
  for (const [what, packet] of PACKETS) {
    const expected = one.a.answer(packet, true, LAN);
    const length = two.a.answerInto(packet, out, LAN) as number;
    assert.deepEqual(out.slice(0, length), expected, what);
  }
  for (const result of ["noerror", "nxdomain", "formerr", "badvers", "refused", "notimp"]) {
    assert.equal(two.queries.get({ result }), one.queries.get({ result }), result);
  }
  assert.equal(two.queries.get({ result: "noerror" }), 4);
});

Deno.test("a response or a runt is not answered at all", () => {
  const { a } = answerer();
  const response = queryPacket(1, `web.${DOMAIN}`, TYPE.A);
  response[2] |= 0x80;
  assert.equal(a.answer(response, true, LAN), undefined);
  assert.equal(a.answerInto(response, new Uint8Array(EDNS_UDP_MAX), LAN), 0);
  assert.equal(a.answerInto(new Uint8Array(3), new Uint8Array(EDNS_UDP_MAX), LAN), 0);
});

Deno.test("the cache keeps DO and plain EDNS answers apart", () => {
  const { a } = answerer();
  const plain = readResponse(
    a.answer(addOpt(queryPacket(1, `web.${DOMAIN}`, TYPE.A)), true, LAN) as Uint8Array,
  );
  const dnssec = readResponse(
    a.answer(
      addOpt(queryPacket(2, `web.${DOMAIN}`, TYPE.A), 1232, 0, true),
      true,
      LAN,
    ) as Uint8Array,
  );
  const plainAgain = readResponse(
    a.answer(addOpt(queryPacket(3, `web.${DOMAIN}`, TYPE.A)), true, LAN) as Uint8Array,
  );
  assert.equal(plain.additional[0].data, "udp=1232 ercode=0 version=0 do=0");
  assert.equal(dnssec.additional[0].data, "udp=1232 ercode=0 version=0 do=1");
  assert.equal(plainAgain.additional[0].data, "udp=1232 ercode=0 version=0 do=0");
  assert.equal(plainAgain.rcode, RCODE.NOERROR);
});

Deno.test("a public client gets the zone but is REFUSED recursion; a LAN client is forwarded", async () => {
  const queries = new Counter("q", "");
  const upstreams = [parseUpstream("192.0.2.53")];
  let asked = 0;
  const a = new Answerer({
    view: sampleView(),
    zone: { apex: DOMAIN, ttl: 5 },
    queries,
    log: silentLogger,
    now: () => 0,
    cacheMs: 1000,
    forward: new Forwarder({
      upstreams: () => upstreams,
      log: silentLogger,
      udp: () => {
        asked++;
        return Promise.reject(new Error("no network in this test"));
      },
      deadlineMs: 100,
    }),
  });
  const publicPeer = new Uint8Array([198, 51, 100, 7]);
  const zone = a.answer(queryPacket(1, `web.${DOMAIN}`, TYPE.A), true, publicPeer);
  assert.equal(readResponse(zone as Uint8Array).rcode, RCODE.NOERROR);
  const out = new Uint8Array(EDNS_UDP_MAX);
  for (
    const answer of [
      a.answer(queryPacket(2, "www.example.org", TYPE.A), true, publicPeer),
      a.answer(queryPacket(3, "www.example.org", TYPE.A), false, publicPeer),
    ]
  ) {
    assert.equal(readResponse(answer as Uint8Array).rcode, RCODE.REFUSED);
  }
  const length = a.answerInto(queryPacket(4, "www.example.org", TYPE.A), out, publicPeer);
  assert.equal(readResponse(out.slice(0, length as number)).rcode, RCODE.REFUSED);
  assert.equal(asked, 0);
  const lan = a.answer(queryPacket(5, "www.example.org", TYPE.A), true, LAN);
  assert.ok(lan instanceof Promise);
  assert.equal(readResponse((await lan)!).rcode, 2, "SERVFAIL: the upstream failed");
  assert.ok(asked > 0);
  assert.equal(queries.get({ result: "refused" }), 3);
  assert.equal(queries.get({ result: "forwarded" }), 1);
});

Deno.test("a stack's container gets its stack's service by compose name; nobody else does, and no answer is cached across clients", () => {
  const shop = "172.30.0.";
  const { a } = answerer({
    stackName: (name, peer) => peer.startsWith(shop) && name === "cache" ? "198.18.7.9" : undefined,
  });
  const container = new Uint8Array([172, 30, 0, 5]);
  const mapped = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 172, 30, 0, 6]);
  const out = new Uint8Array(EDNS_UDP_MAX);
  const ask = (id: number, name: string, type: number, peer: Uint8Array) => {
    const length = a.answerInto(queryPacket(id, name, type), out, peer) as number;
    const batched = readResponse(out.slice(0, length));
    const plain = readResponse(a.answer(queryPacket(id, name, type), true, peer) as Uint8Array);
    assert.deepEqual(batched, plain, "the batched path answers alike");
    return plain;
  };
  for (const peer of [container, mapped]) {
    const r = ask(1, "CACHE", TYPE.A, peer);
    assert.equal(r.rcode, RCODE.NOERROR);
    assert.deepEqual(r.answers.map((x) => [x.name, x.data]), [["CACHE", "198.18.7.9"]]);
  }
  const v6 = ask(2, "cache", TYPE.AAAA, container);
  assert.equal(v6.rcode, RCODE.NOERROR);
  assert.deepEqual(v6.answers, [], "NODATA: the stack's addresses are IPv4");
  // The same name from the LAN, after the container's answer: not from a cache.
  assert.equal(ask(3, "cache", TYPE.A, LAN).rcode, RCODE.REFUSED);
  assert.equal(ask(4, "db", TYPE.A, container).rcode, RCODE.REFUSED, "not a service of its stack");
  assert.equal(ask(5, `web.${DOMAIN}`, TYPE.A, container).rcode, RCODE.NOERROR, "the zone still");
});
