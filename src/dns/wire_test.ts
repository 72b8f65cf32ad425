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
import { queryPacket, readResponse } from "./test_util.ts";

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
