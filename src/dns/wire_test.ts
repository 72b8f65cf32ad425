import assert from "node:assert/strict";
import {
  encodeFormErr,
  encodeReply,
  ipv4Bytes,
  parseQuery,
  type Query,
  RCODE,
  tcpFrame,
  TYPE,
} from "./wire.ts";
import { addOpt, queryPacket, readResponse } from "./test_util.ts";

Deno.test("parseQuery reads id, lower-cased name, type and EDNS size", () => {
  const q = parseQuery(queryPacket(0xbeef, "WeB.Fossora.Home.Arpa", TYPE.A, 4096)) as Query;
  assert.equal(q.id, 0xbeef);
  assert.equal(q.name, "web.fossora.home.arpa");
  assert.equal(q.type, TYPE.A);
  assert.equal(q.class, 1);
  assert.equal(q.rd, true);
  assert.equal(q.ednsSize, 4096);
});

Deno.test("parseQuery drops short packets and responses", () => {
  assert.equal(parseQuery(new Uint8Array(5)), "drop");
  const response = queryPacket(1, "a.b", TYPE.A);
  response[2] |= 0x80;
  assert.equal(parseQuery(response), "drop");
});

Deno.test("parseQuery answers FORMERR for broken questions, including a pointer loop", () => {
  const two = queryPacket(1, "a.b", TYPE.A);
  two[5] = 2;
  assert.equal(parseQuery(two), "formerr");
  const truncated = queryPacket(1, "web.example", TYPE.A).subarray(0, 18);
  assert.equal(parseQuery(truncated), "formerr");
  // A name that points at itself: dns2's parser loops forever on this.
  const loop = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
  assert.equal(parseQuery(loop), "formerr");
  const long = new Uint8Array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64, ...new Array(70).fill(97)]);
  assert.equal(parseQuery(long), "formerr");
});

Deno.test("parseQuery escapes bytes that could fake a label boundary", () => {
  const packet = queryPacket(1, "aXb.zone", TYPE.A);
  packet[14] = 0x2e; // a dot inside the first label
  assert.equal((parseQuery(packet) as Query).name, "a\\046b.zone");
});

Deno.test("encodeFormErr keeps the id and sets QR and FORMERR", () => {
  const out = encodeFormErr(queryPacket(0x1234, "x", TYPE.A));
  assert.deepEqual([...out.subarray(0, 4)], [0x12, 0x34, 0x81, RCODE.FORMERR]);
  assert.equal(out.length, 12);
});

Deno.test("encodeReply compresses names into the question and echoes OPT", () => {
  const request = queryPacket(7, "Web.Zone.Test", TYPE.A, 1232);
  const q = parseQuery(request) as Query;
  const out = encodeReply(
    request,
    q,
    {
      rcode: RCODE.NOERROR,
      aa: true,
      answers: [{ type: TYPE.A, name: "web.zone.test", address: new Uint8Array([10, 0, 0, 1]) }],
      authority: [],
      additional: [{
        type: TYPE.A,
        name: "n1.node.zone.test",
        address: new Uint8Array([10, 0, 0, 2]),
      }],
    },
    "zone.test",
    1232,
    5,
    new Uint8Array(65535),
  );
  const r = readResponse(out);
  assert.equal(r.id, 7);
  assert.equal(r.aa, true);
  assert.deepEqual(r.answers, [{ name: "Web.Zone.Test", type: TYPE.A, ttl: 5, data: "10.0.0.1" }]);
  assert.deepEqual(r.additional[0], {
    name: "n1.node.Zone.Test",
    type: TYPE.A,
    ttl: 5,
    data: "10.0.0.2",
  });
  assert.equal(r.additional[1].type, TYPE.OPT);
  // 2-byte pointers instead of the 15-byte name: the whole answer is 16 bytes.
  assert.equal(out.length, request.length + 16 + 2 + 6 + 2 + 10 + 4);
});

Deno.test("encodeReply sets TC and leaves records out when they do not fit", () => {
  const request = queryPacket(9, "web.zone.test", TYPE.A);
  const q = parseQuery(request) as Query;
  const answers = Array.from({ length: 40 }, (_, i) => ({
    type: TYPE.A,
    name: "web.zone.test",
    address: new Uint8Array([10, 0, 0, i]),
  }));
  const reply = { rcode: RCODE.NOERROR, aa: true, answers, authority: [], additional: [] };
  const small = readResponse(
    encodeReply(request, q, reply, "zone.test", 512, 5, new Uint8Array(65535)),
  );
  assert.equal(small.tc, true);
  assert.equal(small.answers.length, 0);
  const big = readResponse(
    encodeReply(request, q, reply, "zone.test", 65535, 5, new Uint8Array(65535)),
  );
  assert.equal(big.tc, false);
  assert.equal(big.answers.length, 40);
});

Deno.test("parseQuery reads the EDNS version and DO bit from the OPT record", () => {
  const q = parseQuery(addOpt(queryPacket(1, "a.b", TYPE.A), 4096, 1, true)) as Query;
  assert.equal(q.ednsSize, 4096);
  assert.equal(q.ednsVersion, 1);
  assert.equal(q.dnssecOk, true);
  assert.equal(q.formErr, false);
  const small = parseQuery(addOpt(queryPacket(1, "a.b", TYPE.A), 100)) as Query;
  assert.equal(small.ednsSize, 512, "a size under 512 means 512 (RFC 6891 6.2.3)");
  assert.equal(small.dnssecOk, false);
  const plain = parseQuery(queryPacket(1, "a.b", TYPE.A)) as Query;
  assert.deepEqual([plain.ednsSize, plain.ednsVersion, plain.dnssecOk], [0, 0, false]);
});

Deno.test("parseQuery flags a second OPT, a misplaced OPT and records past the end", () => {
  const twice = addOpt(addOpt(queryPacket(1, "a.b", TYPE.A)));
  assert.equal((parseQuery(twice) as Query).formErr, true);
  const named = addOpt(queryPacket(1, "a.b", TYPE.A));
  const owned = new Uint8Array([
    ...named.subarray(0, named.length - 11),
    1,
    97,
    ...named.slice(-11),
  ]);
  assert.equal((parseQuery(owned) as Query).formErr, true, "OPT owned by a.");
  const inAnswers = addOpt(queryPacket(1, "a.b", TYPE.A));
  inAnswers[7] = 1;
  inAnswers[11] = 0;
  assert.equal((parseQuery(inAnswers) as Query).formErr, true, "OPT in the answer section");
  const short = queryPacket(1, "a.b", TYPE.A);
  short[11] = 1; // one additional record announced, none there
  assert.equal((parseQuery(short) as Query).formErr, true);
  const cut = addOpt(queryPacket(1, "a.b", TYPE.A)).subarray(0, -1);
  assert.equal((parseQuery(cut) as Query).formErr, true);
});

Deno.test("parseQuery skips other records (compressed owners too) to find the OPT", () => {
  const base = queryPacket(1, "a.b", TYPE.A);
  // An A record owned by a pointer to the question, then the OPT.
  const a = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1];
  const packet = addOpt(new Uint8Array([...base, ...a]), 1400, 0, true);
  packet[11] = 2;
  const q = parseQuery(packet) as Query;
  assert.equal(q.formErr, false);
  assert.equal(q.ednsSize, 1400);
  assert.equal(q.dnssecOk, true);
});

function encode(request: Uint8Array, reply: Parameters<typeof encodeReply>[2], limit = 1232) {
  const q = parseQuery(request) as Query;
  return readResponse(encodeReply(request, q, reply, "zone.test", limit, 5, new Uint8Array(65535)));
}

const empty = { aa: false, answers: [], authority: [], additional: [] };

Deno.test("encodeReply puts BADVERS's high bits in the OPT and copies the DO bit", () => {
  const request = addOpt(queryPacket(3, "web.zone.test", TYPE.A), 1232, 1, true);
  const r = encode(request, { rcode: RCODE.BADVERS, ...empty });
  assert.equal(r.rcode, 0, "16 & 0xf in the header");
  assert.deepEqual(r.additional.map((a) => a.data), ["udp=1232 ercode=1 version=0 do=1"]);
  const plain = encode(addOpt(queryPacket(3, "web.zone.test", TYPE.A)), {
    rcode: RCODE.NOERROR,
    ...empty,
  });
  assert.deepEqual(plain.additional.map((a) => a.data), ["udp=1232 ercode=0 version=0 do=0"]);
});

Deno.test("encodeReply answers a query with a broken OPT without an OPT", () => {
  const r = encode(addOpt(addOpt(queryPacket(4, "web.zone.test", TYPE.A))), {
    rcode: RCODE.FORMERR,
    ...empty,
  });
  assert.equal(r.rcode, RCODE.FORMERR);
  assert.equal(r.question, "web.zone.test");
  assert.deepEqual(r.additional, []);
});

Deno.test("encodeReply drops glue that does not fit instead of setting TC", () => {
  const answers = Array.from({ length: 20 }, (_, i) => ({
    type: TYPE.NS,
    name: "zone.test",
    target: `n${i}.node.zone.test`,
  }));
  const additional = answers.flatMap((ns, i) => [
    { type: TYPE.A, name: ns.target, address: new Uint8Array([10, 0, 0, i]) },
    { type: TYPE.AAAA, name: ns.target, address: new Uint8Array(16).fill(i) },
    { type: TYPE.AAAA, name: ns.target, address: new Uint8Array(16).fill(i + 100) },
  ]);
  const request = queryPacket(5, "zone.test", TYPE.NS);
  const r = encode(request, { rcode: RCODE.NOERROR, aa: true, answers, authority: [], additional });
  assert.equal(r.tc, false);
  assert.equal(r.answers.length, 20);
  assert.ok(r.additional.length > 0 && r.additional.length < additional.length, "some glue");
  // Whole RRsets only: a name's AAAA pair goes in together or not at all.
  const last = r.additional.at(-1)!;
  if (last.type === TYPE.AAAA) {
    assert.equal(
      r.additional.filter((a) => a.name === last.name && a.type === TYPE.AAAA).length,
      2,
    );
  }
  const all = encode(request, { rcode: 0, aa: true, answers, authority: [], additional }, 65535);
  assert.equal(all.additional.length, additional.length);
});

Deno.test("encodeReply writes AAAA records", () => {
  const address = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const r = encode(queryPacket(6, "web.zone.test", TYPE.AAAA), {
    rcode: RCODE.NOERROR,
    aa: true,
    answers: [{ type: TYPE.AAAA, name: "web.zone.test", address }],
    authority: [],
    additional: [],
  });
  assert.deepEqual(r.answers, [{
    name: "web.zone.test",
    type: TYPE.AAAA,
    ttl: 5,
    data: "fd00:0:0:0:0:0:0:1",
  }]);
});

Deno.test("ipv4Bytes accepts dotted quads only", () => {
  assert.deepEqual([...ipv4Bytes("192.168.1.20")!], [192, 168, 1, 20]);
  for (const bad of ["", "1.2.3", "1.2.3.256", "a.b.c.d", "::1", "1.2.3.4.5"]) {
    assert.equal(ipv4Bytes(bad), undefined, bad);
  }
});

Deno.test("tcpFrame puts the message's length before it, high byte first", () => {
  const message = new Uint8Array(300).fill(7);
  const framed = tcpFrame(message);
  assert.deepEqual([...framed.subarray(0, 2)], [1, 44]);
  assert.deepEqual(framed.subarray(2), message);
});
