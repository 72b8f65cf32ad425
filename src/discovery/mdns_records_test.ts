import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import packet from "dns-packet";
import {
  type Announcement,
  announcementPacket,
  announcementRecords,
  asksFor,
  browseQuery,
  checkAnnouncement,
  hostName,
  instanceName,
  legacyAnswer,
  MAX_INSTANCES_PER_PACKET,
  MAX_TTL_SECONDS,
  type OutPacket,
  parseResponse,
  SERVICE,
} from "./mdns_records.ts";

const ME: Announcement = {
  name: "pi1",
  id: "0123456789abcdef",
  address: "10.42.0.5",
  apiPort: 7440,
  clusterId: "5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11",
};

/** Through the wire and back, as another node's socket hands it to us. */
function wire(p: OutPacket | Record<string, unknown>): unknown {
  // deno-lint-ignore no-explicit-any
  return packet.decode(packet.encode(p as any));
}

// deno-lint-ignore no-explicit-any
type Rec = any;

/** A response with the announcement's records, passed through `edit` first. */
function edited(edit: (records: Rec[]) => Rec[], a = ME): unknown {
  const records = structuredClone(announcementRecords(a)) as Rec[];
  return wire({ type: "response", answers: edit(records) });
}

Deno.test("an announcement is a PTR, an SRV with the API port, a TXT and the advertise address", () => {
  const records = announcementRecords(ME);
  assert.deepEqual(records.map((r) => [r.name, r.type]), [
    ["_fossora._tcp.local", "PTR"],
    ["pi1._fossora._tcp.local", "SRV"],
    ["pi1._fossora._tcp.local", "TXT"],
    ["fossora-0123456789abcdef.local", "A"],
  ]);
  assert.equal(records[0].data, "pi1._fossora._tcp.local");
  assert.deepEqual(records[1].data, {
    priority: 0,
    weight: 0,
    port: 7440,
    target: "fossora-0123456789abcdef.local",
  });
  assert.deepEqual(records[2].data, [
    "v=1",
    "id=0123456789abcdef",
    "cluster=5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11",
  ]);
  assert.equal(records[3].data, "10.42.0.5");
  assert.ok(records.every((r) => r.ttl === 120));
  // Unique records flush caches (a new TXT replaces the old at once); the shared PTR does not.
  assert.deepEqual(records.map((r) => "flush" in r && r.flush === true), [false, true, true, true]);
});

Deno.test("an announcement read back from the wire is the node it describes", () => {
  const parsed = parseResponse(wire(announcementPacket(ME)));
  assert.deepEqual(parsed, {
    sightings: [{
      name: "pi1",
      id: "0123456789abcdef",
      clusterId: "5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11",
      address: "10.42.0.5",
      apiPort: 7440,
      ttl: 120,
    }],
    goodbyes: [],
    rejected: [],
  });
});

Deno.test("a node without a cluster announces an empty cluster key and is seen without one", () => {
  const lone = { ...ME, clusterId: undefined };
  assert.deepEqual(announcementRecords(lone)[2].data, ["v=1", "id=0123456789abcdef", "cluster="]);
  const [s] = parseResponse(wire(announcementPacket(lone))).sightings;
  assert.equal(s.id, ME.id);
  assert.equal("clusterId" in s, false);
});

Deno.test("a goodbye is the same records with TTL 0 and reads as that node leaving", () => {
  const bye = announcementPacket(ME, 0);
  assert.ok(bye.answers!.every((r) => r.ttl === 0 && !("flush" in r && r.flush)));
  assert.deepEqual(parseResponse(wire(bye)), {
    sightings: [],
    goodbyes: [{ name: "pi1", id: ME.id }],
    rejected: [],
  });
});

Deno.test("a goodbye of the PTR alone names the node without an id", () => {
  const p = edited((rs) => [{ ...rs[0], ttl: 0 }]);
  assert.deepEqual(parseResponse(p).goodbyes, [{ name: "pi1" }]);
});

Deno.test("records split between answers and additionals still make one node", () => {
  const rs = structuredClone(announcementRecords(ME)) as Rec[];
  const p = wire({ type: "response", answers: rs.slice(0, 1), additionals: rs.slice(1) });
  assert.equal(parseResponse(p).sightings[0]?.address, "10.42.0.5");
});

Deno.test("names are compared without case, as DNS does", () => {
  const p = edited((rs) =>
    rs.map((r) => ({
      ...r,
      name: r.name.toUpperCase(),
      data: r.type === "PTR" ? r.data.toUpperCase() : r.data,
    }))
  );
  assert.equal(parseResponse(p).sightings[0]?.name, "pi1");
});

Deno.test("the shortest TTL of a node's records is its TTL, and absurd TTLs are cut", () => {
  const short = edited((rs) => rs.map((r) => (r.type === "A" ? { ...r, ttl: 30 } : r)));
  assert.equal(parseResponse(short).sightings[0].ttl, 30);
  const huge = edited((rs) => rs.map((r) => ({ ...r, ttl: 0xffffffff })));
  assert.equal(parseResponse(huge).sightings[0].ttl, MAX_TTL_SECONDS);
});

Deno.test("queries for the service, the instance or the host ask for us; others do not", () => {
  const q = (name: string, type: string) =>
    wire({ type: "query", questions: [{ name, type, class: "IN" }] });
  assert.ok(asksFor(wire(browseQuery()), ME));
  assert.ok(asksFor(q(SERVICE, "ANY"), ME));
  assert.ok(asksFor(q("PI1._fossora._tcp.local", "SRV"), ME));
  assert.ok(asksFor(q(instanceName("pi1"), "TXT"), ME));
  assert.ok(asksFor(q(hostName(ME.id), "A"), ME));
  assert.equal(asksFor(q(hostName(ME.id), "AAAA"), ME), false);
  assert.equal(asksFor(q("pi2._fossora._tcp.local", "SRV"), ME), false);
  assert.equal(asksFor(q("_http._tcp.local", "PTR"), ME), false);
  assert.equal(asksFor(q("constructor", "PTR"), ME), false);
  assert.equal(asksFor(wire(announcementPacket(ME)), ME), false, "a response is no question");
  // The unicast-response bit ends up in dns-packet's class; the question still counts.
  const qu = new Uint8Array(packet.encode({
    type: "query",
    questions: [{ name: SERVICE, type: "PTR", class: "IN" }],
  }));
  qu[qu.length - 2] |= 0x80;
  assert.ok(asksFor(packet.decode(Buffer.from(qu)), ME));
});

Deno.test("a one-shot query gets its id and question back, short TTLs and no cache-flush bits", () => {
  const query = wire({
    type: "query",
    id: 777,
    questions: [{ name: "PI1._fossora._tcp.local", type: "SRV", class: "IN" }],
  });
  const reply = legacyAnswer(query, ME)!;
  assert.equal(reply.id, 777);
  assert.deepEqual(reply.questions, [{
    name: "PI1._fossora._tcp.local",
    type: "SRV",
    class: "IN",
  }]);
  const back = wire(reply) as { flag_aa: boolean; id: number; answers: Rec[] };
  assert.equal(back.id, 777);
  assert.equal(back.flag_aa, true);
  assert.ok(back.answers.every((r) => r.ttl === 10 && r.flush === false));
  assert.equal(parseResponse(back).sightings[0].ttl, 10);
  const other = wire({ type: "query", id: 1, questions: [{ name: "x.local", type: "A" }] });
  assert.equal(legacyAnswer(other, ME), undefined);
  assert.equal(legacyAnswer(wire(announcementPacket(ME)), ME), undefined);
});

Deno.test("own options that cannot be announced are refused with what to set", () => {
  assert.equal(checkAnnouncement(ME), undefined);
  const cases: [Partial<Announcement>, RegExp][] = [
    [{ name: "Pi_1" }, /not a DNS label.*--name/],
    [{ id: "xyz" }, /node id/],
    [{ address: "127.0.0.1" }, /--advertise-addr/],
    [{ address: "0.0.0.0" }, /--advertise-addr/],
    [{ address: "fd00::1" }, /--advertise-addr/],
    [{ apiPort: 0 }, /--api-port/],
    [{ apiPort: 70000 }, /--api-port/],
    [{ clusterId: "has space" }, /cluster id/],
  ];
  for (const [change, re] of cases) {
    assert.match(checkAnnouncement({ ...ME, ...change }) ?? "", re, JSON.stringify(change));
  }
});

Deno.test("a bad record is skipped with a reason and the rest of the packet still counts", async (t) => {
  const other = { ...ME, name: "pi2", id: "fedcba9876543210", address: "10.42.0.6" };
  const cases: [string, (rs: Rec[]) => Rec[], RegExp][] = [
    ["an instance name that is no DNS label", (rs) => rename(rs, "Bad_Name"), /DNS label/],
    ["an instance label with a leading '-'", (rs) => rename(rs, "-pi"), /DNS label/],
    ["an instance label that is not ASCII", (rs) => rename(rs, "pï"), /DNS label/],
    ["port 0", (rs) => srv(rs, { port: 0 }), /port 0 out of range/],
    ["no SRV", (rs) => rs.filter((r) => r.type !== "SRV"), /no SRV/],
    ["no TXT", (rs) => rs.filter((r) => r.type !== "TXT"), /no TXT/],
    ["TXT v=2", (rs) => txt(rs, ["v=2", `id=${ME.id}`, "cluster="]), /v=2 is not 1/],
    ["TXT without v", (rs) => txt(rs, [`id=${ME.id}`]), /v=undefined/],
    ["an id that is not hex", (rs) => txt(rs, ["v=1", "id=ZZZZZZZZZZZZZZZZ"]), /id is not/],
    ["a cluster id with spaces", (rs) => txt(rs, ["v=1", `id=${ME.id}`, "cluster=a b"]), /cluster/],
    ["an oversized TXT", (rs) => txt(rs, ["v=1", `id=${ME.id}`, ...big(3, 200)]), /larger than/],
    ["a TXT of 42 strings", (rs) => txt(rs, ["v=1", `id=${ME.id}`, ...big(40, 1)]), /42 strings/],
    ["no A record", (rs) => rs.filter((r) => r.type !== "A"), /no usable A/],
    ["a loopback address", (rs) => addr(rs, "127.0.0.1"), /no usable A/],
    ["a multicast address", (rs) => addr(rs, "224.0.0.251"), /no usable A/],
    ["the any address", (rs) => addr(rs, "0.0.0.0"), /no usable A/],
    ["an A record for another name", (rs) => rs.map(aName("other.local")), /no usable A/],
  ];
  for (const [what, edit, reason] of cases) {
    await t.step(what, () => {
      const p = wire({
        type: "response",
        answers: [
          ...edit(structuredClone(announcementRecords(ME)) as Rec[]),
          ...announcementRecords(other),
        ],
      });
      const parsed = parseResponse(p);
      assert.deepEqual(parsed.sightings.map((s) => s.name), ["pi2"], "the good node still counts");
      assert.equal(parsed.rejected.length, 1, parsed.rejected.join("; "));
      assert.match(parsed.rejected[0], reason);
    });
  }
});

Deno.test("the first of duplicated TXT keys counts, as RFC 6763 says", () => {
  const p = edited((rs) => txt(rs, ["v=1", `id=${ME.id}`, "cluster=abc", "cluster=evil", "id=x"]));
  const [s] = parseResponse(p).sightings;
  assert.equal(s.id, ME.id);
  assert.equal(s.clusterId, "abc");
});

Deno.test("one packet yields at most 32 nodes however many it names", () => {
  const answers: Rec[] = [];
  for (let i = 0; i < 300; i++) {
    answers.push(...announcementRecords({
      ...ME,
      name: `n${i}`,
      id: i.toString(16).padStart(16, "0"),
    }));
  }
  const parsed = parseResponse({ type: "response", answers });
  assert.equal(parsed.sightings.length, MAX_INSTANCES_PER_PACKET);
  assert.deepEqual(parsed.sightings.slice(0, 2).map((s) => s.name), ["n0", "n1"]);
  assert.match(parsed.rejected.join(";"), /instances past the first 32/);
});

Deno.test("shapes no decoder would make are skipped without throwing", () => {
  const bad: unknown[] = [
    null,
    "response",
    42,
    { type: "response" },
    { type: "response", answers: "nope", additionals: {} },
    { type: "response", answers: [null, 1, "x", [], { name: 5 }] },
    { type: "response", answers: [{ name: SERVICE, type: "PTR", ttl: -1, data: "a" }] },
    { type: "response", answers: [{ name: SERVICE, type: "PTR", ttl: 1.5, data: "a" }] },
    { type: "response", answers: [{ name: SERVICE, type: "PTR", ttl: 120, data: { x: 1 } }] },
    {
      type: "response",
      answers: [
        { name: SERVICE, type: "PTR", ttl: 120, data: instanceName("pi1") },
        { name: instanceName("pi1"), type: "SRV", ttl: 120, data: "not an object" },
        { name: instanceName("pi1"), type: "TXT", ttl: 120, data: 7 },
      ],
    },
    { type: "query", questions: [null, { name: {} }] },
    // A 64-byte label cannot come off the wire (dns-packet refuses it) but must not pass here.
    {
      type: "response",
      answers: rename(structuredClone(announcementRecords(ME)) as Rec[], "a".repeat(64)),
    },
  ];
  for (const p of bad) {
    const parsed = parseResponse(p);
    assert.deepEqual(parsed.sightings, [], JSON.stringify(p));
    assert.equal(asksFor(p, ME), false);
  }
});

Deno.test("random and mutated bytes never make the parser throw or invent a node", () => {
  const good = packet.encode(announcementPacket(ME) as Rec);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    let bytes: Uint8Array;
    if (i % 2 === 0) {
      bytes = new Uint8Array(Math.floor(rand() * 600));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
    } else {
      bytes = new Uint8Array(good);
      for (let k = 0; k < 1 + Math.floor(rand() * 6); k++) {
        bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      }
    }
    let p: unknown;
    try {
      p = packet.decode(Buffer.from(bytes));
    } catch {
      continue; // the socket drops what dns-packet cannot decode
    }
    decoded++;
    const parsed = parseResponse(p);
    asksFor(p, ME);
    for (const s of parsed.sightings) {
      assert.match(s.id, /^[0-9a-f]{16}$/);
      assert.ok(s.apiPort >= 1 && s.apiPort <= 65535);
      assert.ok(s.ttl >= 1 && s.ttl <= MAX_TTL_SECONDS);
    }
  }
  assert.ok(decoded > 100, `only ${decoded} of the inputs decoded: the test proves little`);
});

function rename(rs: Rec[], label: string): Rec[] {
  const inst = `${label}.${SERVICE}`;
  return rs.map((r) =>
    r.type === "PTR"
      ? { ...r, data: inst }
      : r.type === "SRV" || r.type === "TXT"
      ? { ...r, name: inst }
      : r
  );
}

function srv(rs: Rec[], change: Record<string, unknown>): Rec[] {
  return rs.map((r) => (r.type === "SRV" ? { ...r, data: { ...r.data, ...change } } : r));
}

function txt(rs: Rec[], data: string[]): Rec[] {
  return rs.map((r) => (r.type === "TXT" ? { ...r, data } : r));
}

function addr(rs: Rec[], a: string): Rec[] {
  return rs.map((r) => (r.type === "A" ? { ...r, data: a } : r));
}

function aName(name: string): (r: Rec) => Rec {
  return (r) => (r.type === "A" ? { ...r, name } : r);
}

function big(n: number, size: number): string[] {
  return Array.from({ length: n }, (_, i) => `k${i}=${"x".repeat(size)}`);
}
