/**
 * The discovery driven through its two interfaces, a link of in-memory sockets (packets go
 * through dns-packet's real encoder and decoder, and loop back to the sender as multicast does)
 * and a manual clock. The real socket is tested in test/mdns_test.ts.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import packet from "dns-packet";
import {
  type CandidateChange,
  type MdnsClock,
  MdnsConfigError,
  MdnsDiscovery,
  type MdnsDiscoveryOptions,
  type OpenTransport,
  type TransportOptions,
} from "./mdns.ts";
import { announcementPacket, type OutPacket, SERVICE } from "./mdns_records.ts";

class ManualClock implements MdnsClock {
  t = 1_700_000_000_000;
  #seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** Moves time on, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

interface Sent {
  from: string;
  at: number;
  packet: OutPacket;
  /** Set for a unicast reply. */
  to?: { address: string; port: number };
}

/** One multicast link: every member gets every packet, its own included. */
class Link {
  readonly members = new Set<TransportOptions>();
  readonly sent: Sent[] = [];
  constructor(readonly clock: ManualClock) {}

  open: OpenTransport = (o) => {
    this.members.add(o);
    return Promise.resolve({
      send: (p: OutPacket, to?: { address: string; port: number }) => {
        if (!this.members.has(o)) return Promise.reject(new Error("socket closed"));
        this.sent.push({ from: o.interfaceAddress, at: this.clock.now(), packet: p, to });
        if (to) return Promise.resolve(); // to a one-shot querier, not on the link
        // deno-lint-ignore no-explicit-any
        this.deliver(packet.encode(p as any), o.interfaceAddress);
        return Promise.resolve();
      },
      close: () => {
        this.members.delete(o);
        return Promise.resolve();
      },
    });
  };

  /** Bytes from `from`, decoded by each receiver as multicast-dns does (bad ones are warnings). */
  deliver(bytes: Uint8Array, from = "10.42.0.99", port = 5353): void {
    for (const m of [...this.members]) {
      let p: unknown;
      try {
        p = packet.decode(Buffer.from(bytes));
      } catch (e) {
        m.onWarning(e as Error);
        continue;
      }
      m.onPacket(p, { address: from, port });
    }
  }

  /** Packets `from` sent of a type, with TTL 0 answers counted as goodbyes. */
  by(from: string, kind: "query" | "announce" | "goodbye"): Sent[] {
    return this.sent.filter((s) =>
      s.from === from && !s.to &&
      (kind === "query" ? s.packet.type === "query" : s.packet.type === "response" &&
        (kind === "goodbye") === (s.packet.answers?.[0]?.ttl === 0))
    );
  }
}

const A_ID = "aaaaaaaaaaaaaaaa";
const B_ID = "bbbbbbbbbbbbbbbb";

function setup() {
  const clock = new ManualClock();
  const link = new Link(clock);
  const changes: Record<string, CandidateChange[]> = { a: [], b: [] };
  const make = (who: "a" | "b", more: Partial<MdnsDiscoveryOptions> = {}) =>
    new MdnsDiscovery({
      name: `node-${who}`,
      id: who === "a" ? A_ID : B_ID,
      advertiseAddress: who === "a" ? "10.42.0.1" : "10.42.0.2",
      apiPort: who === "a" ? 7440 : 7441,
      transport: link.open,
      clock,
      onChange: (c) => changes[who].push(c),
      ...more,
    });
  return { clock, link, changes, make };
}

Deno.test("two nodes on one link find each other with address, port, id and cluster id", async () => {
  const { make, changes, clock } = setup();
  const a = make("a", { clusterId: "c1" });
  const b = make("b");
  await a.start();
  await b.start(); // a hears b's announcement at once
  assert.deepEqual(
    b.candidates(),
    [],
    "a announced itself a moment ago, so it answers b's query a second later",
  );
  clock.advance(1000); // its second announcement, and its answer to b's query, reach b
  assert.deepEqual(a.candidates().map(({ seenAt: _, expiresAt: __, ...c }) => c), [
    { name: "node-b", id: B_ID, address: "10.42.0.2", apiPort: 7441 },
  ]);
  assert.deepEqual(b.candidates().map(({ seenAt: _, expiresAt: __, ...c }) => c), [
    { name: "node-a", id: A_ID, clusterId: "c1", address: "10.42.0.1", apiPort: 7440 },
  ]);
  assert.deepEqual(changes.a.map((c) => c.kind), ["added"]);
  assert.equal(changes.b[0].candidate.expiresAt - changes.b[0].candidate.seenAt, 120_000);
  await a.stop();
  await b.stop();
});

Deno.test("start announces twice a second apart and queries after 1, 2, 4 ... s up to every 60 s", async () => {
  const { make, link, clock } = setup();
  const a = make("a");
  const t0 = clock.now();
  await a.start();
  clock.advance(200_000);
  assert.deepEqual(
    link.by("10.42.0.1", "query").map((s) => s.at - t0),
    [0, 1000, 3000, 7000, 15_000, 31_000, 63_000, 123_000, 183_000],
  );
  const announced = link.by("10.42.0.1", "announce").map((s) => s.at - t0);
  assert.deepEqual(announced.slice(0, 2), [0, 1000]);
  assert.ok(
    announced.every((t, i) => i === 0 || t - announced[i - 1] >= 1000),
    `at most one response a second: ${announced}`,
  );
  await a.stop();
});

Deno.test("a burst of queries for us gets one answer at once and one a second later", async () => {
  const { make, link, clock } = setup();
  const b = make("b");
  await b.start();
  clock.advance(5000);
  const before = link.by("10.42.0.2", "announce").length;
  const answered = b.stats().queriesAnswered;
  const q = new Uint8Array(packet.encode({
    type: "query",
    questions: [{ name: SERVICE, type: "PTR", class: "IN" }],
  }));
  for (let i = 0; i < 50; i++) link.deliver(q);
  assert.equal(link.by("10.42.0.2", "announce").length - before, 1);
  clock.advance(999);
  assert.equal(link.by("10.42.0.2", "announce").length - before, 1);
  clock.advance(1);
  assert.equal(link.by("10.42.0.2", "announce").length - before, 2);
  clock.advance(500); // no more queries came (the next own one is due at 7 s)
  assert.equal(link.by("10.42.0.2", "announce").length - before, 2);
  assert.equal(b.stats().queriesAnswered - answered, 2);
  await b.stop();
});

Deno.test("a node that joins a cluster is seen with its cluster id at once", async () => {
  const { make, link, changes } = setup();
  const a = make("a");
  const b = make("b");
  await a.start();
  await b.start();
  const sent = link.sent.length;
  b.setClusterId(undefined);
  assert.equal(link.sent.length, sent, "no change, no packet");
  b.setClusterId("5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11");
  assert.deepEqual(changes.a.map((c) => [c.kind, c.candidate.clusterId]), [
    ["added", undefined],
    ["updated", "5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11"],
  ]);
  assert.equal(a.candidates()[0].clusterId, "5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11");
  assert.throws(() => b.setClusterId("no spaces please"), MdnsConfigError);
  await a.stop();
  await b.stop();
});

Deno.test("stop says goodbye, the other side drops the node at once, and nothing runs after", async () => {
  const { make, link, clock, changes } = setup();
  const a = make("a");
  const b = make("b");
  await a.start();
  await b.start();
  await Promise.all([b.stop(), b.stop()]);
  assert.equal(link.by("10.42.0.2", "goodbye").length, 1);
  assert.deepEqual(changes.a.map((c) => [c.kind, c.candidate.name]), [
    ["added", "node-b"],
    ["removed", "node-b"],
  ]);
  assert.deepEqual(a.candidates(), []);
  assert.deepEqual(b.candidates(), []);
  assert.equal(link.members.size, 1, "b's socket is closed");
  const sent = link.by("10.42.0.2", "query").length;
  clock.advance(300_000);
  assert.equal(link.by("10.42.0.2", "query").length, sent, "a stopped node sends nothing");
  await a.stop();
  assert.equal(clock.timers.size, 0, "no timer left behind");
});

Deno.test("a live node stays while it answers; one that vanishes silently expires after its TTL", async () => {
  const { make, link, clock, changes } = setup();
  const a = make("a");
  const b = make("b");
  await a.start();
  await b.start();
  clock.advance(600_000);
  assert.deepEqual(a.candidates().map((c) => c.name), ["node-b"], "refreshed by its answers");
  // b's machine loses power: its socket is gone without a goodbye.
  for (const m of link.members) if (m.interfaceAddress === "10.42.0.2") link.members.delete(m);
  const lastSeen = a.candidates()[0].seenAt;
  clock.advance(119_000 - (clock.now() - lastSeen));
  assert.equal(a.candidates().length, 1);
  clock.advance(1000);
  assert.deepEqual(a.candidates(), []);
  assert.deepEqual(changes.a.at(-1)?.kind, "removed");
  await a.stop();
  await b.stop();
});

Deno.test("an aborted signal stops the discovery with a goodbye", async () => {
  const { make, link } = setup();
  const ctl = new AbortController();
  const b = make("b", { signal: ctl.signal });
  await b.start();
  ctl.abort();
  await b.stop(); // the same stop the signal began
  assert.equal(link.by("10.42.0.2", "goodbye").length, 1);
  assert.equal(link.members.size, 0);
});

Deno.test("garbage, lies and floods leave the table bounded and the real node in it", async () => {
  const { make, link, clock } = setup();
  let thrown = 0;
  const a = make("a");
  a.subscribe(() => {
    thrown++;
    throw new Error("a consumer's bug");
  });
  const b = make("b");
  await a.start();
  await b.start();
  // Undecodable bytes, a compression loop, truncations of a real packet.
  const real = new Uint8Array(packet.encode(announcementPacket({
    name: "x",
    id: "cccccccccccccccc",
    address: "10.42.0.3",
    apiPort: 1,
    // deno-lint-ignore no-explicit-any
  }) as any));
  link.deliver(new TextEncoder().encode("hello, world"));
  link.deliver(new Uint8Array([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1]));
  for (let n = 1; n < real.length; n += 7) link.deliver(real.slice(0, n));
  // 2000 invented nodes, 32 to a packet.
  for (let p = 0; p < 2000 / 32; p++) {
    const answers = [];
    for (let i = 0; i < 32; i++) {
      const n = p * 32 + i;
      answers.push(
        ...announcementPacket({
          name: `fake${n}`,
          id: (0x1000000 + n).toString(16).padStart(16, "0"),
          address: "10.66.0.1",
          apiPort: 9,
        }, 4_000_000_000).answers!,
      );
    }
    // deno-lint-ignore no-explicit-any
    link.deliver(new Uint8Array(packet.encode({ type: "response", answers } as any)));
  }
  const list = a.candidates();
  assert.equal(list.length, 256);
  assert.ok(list.some((c) => c.name === "node-b"), "the real node was known first and stays");
  assert.ok(list.every((c) => c.expiresAt - c.seenAt <= 4500_000), "absurd TTLs are cut");
  const stats = a.stats();
  assert.ok(stats.refused >= 2000 - 255, JSON.stringify(stats));
  assert.ok(stats.rejected > 10, JSON.stringify(stats));
  assert.equal(thrown, 256, "a throwing listener is called for each change and survives");
  // Still working: b joins a cluster and a sees it.
  b.setClusterId("c2");
  assert.equal(a.candidates().find((c) => c.name === "node-b")?.clusterId, "c2");
  clock.advance(1);
  await a.stop();
  await b.stop();
});

Deno.test("start fails with the socket's reason and leaves nothing running", async () => {
  const clock = new ManualClock();
  const d = new MdnsDiscovery({
    name: "pi1",
    id: A_ID,
    advertiseAddress: "10.42.0.1",
    apiPort: 7440,
    clock,
    transport: () => Promise.reject(new Error("mdns: cannot listen on UDP port 5353 (EADDRINUSE)")),
  });
  await assert.rejects(d.start(), /EADDRINUSE/);
  await d.stop();
  assert.equal(clock.timers.size, 0);
  await assert.rejects(d.start(), /already started/);
});

Deno.test("options that cannot be announced are refused before anything starts", () => {
  const base = { name: "pi1", id: A_ID, advertiseAddress: "10.42.0.1", apiPort: 7440 };
  const bad: [Partial<MdnsDiscoveryOptions>, RegExp][] = [
    [{ advertiseAddress: "127.0.0.1" }, /--advertise-addr/],
    [{ name: "PI 1" }, /--name/],
    [{ apiPort: 65536 }, /--api-port/],
    [{ interfaceAddress: "eth0" }, /interface address/],
    [{ ttlSeconds: 0 }, /ttlSeconds/],
    [{ queryBackoff: { initialMs: 0, maxMs: 1 } }, /queryBackoff/],
  ];
  for (const [change, re] of bad) {
    assert.throws(() => new MdnsDiscovery({ ...base, ...change }), (e: Error) => {
      assert.ok(e instanceof MdnsConfigError);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("a one-shot query from another port is answered to its sender alone, ten a second", async () => {
  const { make, link, clock } = setup();
  const b = make("b");
  await b.start();
  clock.advance(5000);
  const announced = link.by("10.42.0.2", "announce").length;
  const q = (id: number) =>
    new Uint8Array(packet.encode({
      type: "query",
      id,
      questions: [{ name: SERVICE, type: "PTR", class: "IN" }],
    }));
  link.deliver(q(4242), "10.42.0.7", 40000);
  const replies = () => link.sent.filter((s) => s.to);
  assert.equal(replies().length, 1);
  const [r] = replies();
  assert.deepEqual(r.to, { address: "10.42.0.7", port: 40000 });
  assert.equal(r.packet.id, 4242);
  assert.deepEqual(r.packet.questions, [{ name: SERVICE, type: "PTR", class: "IN" }]);
  assert.ok(r.packet.answers!.every((a) => a.ttl === 10 && !("flush" in a)));
  assert.equal(link.by("10.42.0.2", "announce").length, announced, "nothing on the group");
  for (let i = 0; i < 100; i++) link.deliver(q(i), "10.42.0.7", 40000);
  assert.equal(replies().length, 10, "at most ten a second");
  clock.advance(1000);
  link.deliver(q(1), "10.42.0.7", 40000);
  assert.equal(replies().length, 11);
  assert.equal(b.stats().legacyAnswered, 11);
  await b.stop();
});

Deno.test("when the interface's address comes late, it announces and browses afresh", async () => {
  const { make, link, clock } = setup();
  const b = make("b");
  const t0 = clock.now();
  await b.start();
  clock.advance(40_000); // queries at 0, 1, 3, 7, 15, 31 s; the next is due at 63 s
  const [socket] = link.members;
  clock.advance(1000);
  socket.onInterfaceUp!();
  clock.advance(3000);
  const at = (kind: "query" | "announce") =>
    link.by("10.42.0.2", kind).map((s) => s.at - t0).filter((t) => t > 40_000);
  assert.deepEqual(at("query"), [41_000, 42_000, 44_000], "the backoff starts over");
  assert.deepEqual(at("announce").slice(0, 2), [41_000, 42_000]);
  await b.stop();
  assert.equal(clock.timers.size, 0);
});
