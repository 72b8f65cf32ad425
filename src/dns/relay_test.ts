import assert from "node:assert/strict";
import dnsPacket from "dns-packet";
import { readUpstream, relayReply, upstreamQuery } from "./relay.ts";
import { queryPacket, readResponse } from "./test_util.ts";
import { parseQuery, type Query, TYPE } from "./wire.ts";

const client = queryPacket(0xabcd, "Www.Example.org", TYPE.A);
const question = client.slice(12);

function reply(p: Partial<dnsPacket.Packet> & { flags?: number }): Uint8Array {
  return new Uint8Array(dnsPacket.encode({
    type: "response",
    id: 7,
    flags: dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: "A", name: "www.example.org" }],
    ...p,
  } as dnsPacket.Packet));
}

const A = (ttl: number, data = "192.0.2.1") => ({
  type: "A" as const,
  name: "www.example.org",
  ttl,
  data,
});

Deno.test("the query sent upstream is a fresh-id, RD, EDNS copy of the question", () => {
  const q = parseQuery(upstreamQuery(0x1234, question, true)) as Query;
  assert.equal(q.id, 0x1234);
  assert.equal(q.rd, true);
  assert.equal(q.name, "www.example.org");
  assert.equal(q.ednsSize, 1232);
  assert.equal(q.dnssecOk, true);
});

Deno.test("a reply is believed only for the same id and question", () => {
  const good = reply({ answers: [A(60)] });
  assert.ok(readUpstream(good, 7, question));
  assert.equal(readUpstream(good, 8, question), undefined, "another id");
  const other = queryPacket(1, "www.example.com", TYPE.A).slice(12);
  assert.equal(readUpstream(good, 7, other), undefined, "another name");
  const aaaa = queryPacket(1, "www.example.org", TYPE.AAAA).slice(12);
  assert.equal(readUpstream(good, 7, aaaa), undefined, "another type");
  const query = good.slice();
  query[2] &= 0x7f;
  assert.equal(readUpstream(query, 7, question), undefined, "a query, not a response");
  assert.equal(readUpstream(good.slice(0, good.length - 2), 7, question), undefined, "cut short");
});

Deno.test("positive TTL is the smallest record's; negative is min(SOA TTL, SOA minimum)", () => {
  const pos = readUpstream(reply({ answers: [A(300), A(120, "192.0.2.2")] }), 7, question)!;
  assert.equal(pos.ttl, 120);
  const soa = {
    type: "SOA" as const,
    name: "example.org",
    ttl: 900,
    data: {
      mname: "ns.example.org",
      rname: "h.example.org",
      serial: 1,
      refresh: 1,
      retry: 1,
      expire: 1,
      minimum: 45,
    },
  };
  const neg = readUpstream(reply({ flags: 3, authorities: [soa] }), 7, question)!;
  assert.equal(neg.rcode, 3);
  assert.equal(neg.ttl, 45);
  assert.equal(readUpstream(reply({ flags: 3 }), 7, question)!.ttl, 0, "no SOA: not kept");
});

Deno.test("the upstream's OPT is dropped; an extended rcode is not relayed", () => {
  const withOpt = reply({
    answers: [A(60)],
    additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as dnsPacket.Answer],
  });
  const r = readUpstream(withOpt, 7, question)!;
  assert.equal(r.bytes[11], 0, "no additional record left");
  const bad = withOpt.slice();
  bad[bad.length - 6] = 1; // the OPT's extended rcode byte
  assert.equal(readUpstream(bad, 7, question), undefined);
});

Deno.test("the relayed reply has the client's id, question and RD, RA set, TTLs counted down", () => {
  const r = readUpstream(reply({ answers: [A(60)] }), 7, question)!;
  const q = parseQuery(client) as Query;
  const out = readResponse(relayReply(client, q, { reply: r, at: 0, maxTtl: 86400 }, 512, 10_999));
  assert.equal(out.id, 0xabcd);
  assert.equal(out.question, "Www.Example.org");
  assert.equal(out.answers[0].ttl, 50);
  assert.equal(out.rd, true);
  const fail = readResponse(relayReply(client, q, { at: 0, maxTtl: 0 }, 512, 0));
  assert.equal(fail.rcode, 2);
  assert.equal(fail.answers.length, 0);
});

Deno.test("garbage from an upstream never throws, whatever the bytes", () => {
  const base = reply({ answers: [A(60), A(60, "192.0.2.2")] });
  let kept = 0;
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 20_000; i++) {
    const b = base.slice(0, 1 + Math.floor(rand() * base.length));
    for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    b[0] = 0;
    b[1] = 7;
    const r = readUpstream(b, 7, question);
    if (!r) continue;
    kept++;
    relayReply(client, parseQuery(client) as Query, { reply: r, at: 0, maxTtl: 9 }, 512, 0);
  }
  assert.ok(kept > 0, "some mutations still read as replies, so relaying was exercised");
});
