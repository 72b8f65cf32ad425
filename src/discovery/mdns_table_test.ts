import assert from "node:assert/strict";
import type { Sighting } from "./mdns_records.ts";
import { CandidateTable } from "./mdns_table.ts";

const PI2: Sighting = {
  name: "pi2",
  id: "fedcba9876543210",
  address: "10.42.0.6",
  apiPort: 7440,
  ttl: 120,
};

const node = (i: number, ttl = 120): Sighting => ({
  name: `n${i}`,
  id: i.toString(16).padStart(16, "0"),
  address: `10.42.1.${i % 250 + 1}`,
  apiPort: 7440,
  ttl,
});

Deno.test("a new node is added, a refresh changes nothing visible, a new cluster id is an update", () => {
  const t = new CandidateTable();
  const added = t.see(PI2, 1000);
  assert.deepEqual(added, {
    kind: "added",
    candidate: {
      name: "pi2",
      id: "fedcba9876543210",
      address: "10.42.0.6",
      apiPort: 7440,
      seenAt: 1000,
      expiresAt: 121_000,
    },
  });
  assert.equal(t.see(PI2, 5000), undefined, "a refresh is no change");
  assert.equal(t.list()[0].seenAt, 5000);
  assert.equal(t.list()[0].expiresAt, 125_000);
  const joined = t.see({ ...PI2, clusterId: "c1" }, 6000);
  assert.equal(joined?.kind, "updated");
  assert.equal(joined?.candidate.clusterId, "c1");
  assert.equal(t.see({ ...PI2, address: "10.42.0.7", clusterId: "c1" }, 7000)?.kind, "updated");
  assert.equal(t.size, 1);
});

Deno.test("a node expires when its TTL runs out by the clock, not before", () => {
  const t = new CandidateTable();
  t.see(PI2, 0);
  t.see({ ...node(1), ttl: 10 }, 0);
  assert.equal(t.nextExpiry(), 10_000);
  assert.deepEqual(t.expire(9_999), []);
  assert.deepEqual(t.expire(10_000).map((c) => [c.kind, c.candidate.name]), [["removed", "n1"]]);
  assert.equal(t.nextExpiry(), 120_000);
  t.see(PI2, 100_000); // seen again: lives on
  assert.deepEqual(t.expire(120_000), []);
  assert.deepEqual(t.expire(220_000).map((c) => c.candidate.name), ["pi2"]);
  assert.equal(t.nextExpiry(), undefined);
});

Deno.test("two nodes with one name are two candidates; a goodbye with an id drops only its node", () => {
  const t = new CandidateTable();
  const twin = { ...PI2, id: "1111111111111111", address: "10.42.0.9" };
  t.see(PI2, 0);
  t.see(twin, 0);
  assert.equal(t.list().length, 2);
  assert.deepEqual(t.goodbye({ name: "pi2", id: twin.id }).map((c) => c.candidate.address), [
    "10.42.0.9",
  ]);
  assert.deepEqual(t.list().map((c) => c.id), [PI2.id]);
  t.see(twin, 0);
  assert.equal(t.goodbye({ name: "pi2" }).length, 2, "without an id, every node of the name goes");
  assert.equal(t.size, 0);
  assert.deepEqual(t.goodbye({ name: "nobody", id: "2222222222222222" }), []);
});

Deno.test("a full table refuses new nodes, keeps the known ones and takes new ones after expiry", () => {
  const t = new CandidateTable(3);
  for (let i = 0; i < 3; i++) assert.equal(t.see(node(i, 10), 0)?.kind, "added");
  for (let i = 3; i < 1000; i++) assert.equal(t.see(node(i), 0), undefined);
  assert.equal(t.size, 3);
  assert.equal(t.refused, 997);
  assert.equal(t.see({ ...node(0, 10), clusterId: "c" }, 1)?.kind, "updated", "known still update");
  t.expire(10_000);
  assert.equal(t.see(node(500), 10_000)?.kind, "added");
});

Deno.test("the list is a copy: a consumer cannot change the table", () => {
  const t = new CandidateTable();
  t.see(PI2, 0);
  t.list()[0].address = "6.6.6.6";
  assert.equal(t.list()[0].address, "10.42.0.6");
  assert.throws(() => new CandidateTable(0), /positive integer/);
});
