import assert from "node:assert/strict";
import { type ClusterFacts, conflictWarning, mergePlan, outranks } from "./merge.ts";

const OLD = "2026-05-01T10:00:00.000Z";
const NEW = "2026-05-01T10:00:00.400Z";

function cluster(id: string, created: string, empty: boolean): ClusterFacts {
  return { id, created, empty };
}

Deno.test("of two empty clusters, the younger gives way to the older", () => {
  const older = cluster("c-1", OLD, true);
  const younger = cluster("c-2", NEW, true);
  assert.deepEqual(mergePlan(younger, [older]), { giveWayTo: older, conflicts: [] });
  assert.deepEqual(mergePlan(older, [younger]), { giveWayTo: undefined, conflicts: [] });
});

Deno.test("a cluster with no services gives way to one with services, however old it is", () => {
  const emptyOld = cluster("c-1", OLD, true);
  const busyNew = cluster("c-2", NEW, false);
  assert.deepEqual(mergePlan(emptyOld, [busyNew]), { giveWayTo: busyNew, conflicts: [] });
  assert.deepEqual(mergePlan(busyNew, [emptyOld]), { giveWayTo: undefined, conflicts: [] });
});

Deno.test("two clusters that both run services are never merged: each warns of the other", () => {
  const a = cluster("c-1", OLD, false);
  const b = cluster("c-2", NEW, false);
  assert.deepEqual(mergePlan(a, [b]), { giveWayTo: undefined, conflicts: [b] });
  assert.deepEqual(mergePlan(b, [a]), { giveWayTo: undefined, conflicts: [a] });
});

Deno.test("clusters founded in the same millisecond: the larger id gives way", () => {
  const a = cluster("c-1", OLD, true);
  const b = cluster("c-2", OLD, true);
  assert.equal(mergePlan(b, [a]).giveWayTo, a);
  assert.equal(mergePlan(a, [b]).giveWayTo, undefined);
});

Deno.test("seeing several, an empty cluster gives way to the one that outranks them all", () => {
  const mine = cluster("c-9", NEW, true);
  const olderEmpty = cluster("c-1", "2026-04-01T00:00:00Z", true);
  const busy = cluster("c-3", "2026-04-20T00:00:00Z", false);
  const busyOlder = cluster("c-2", "2026-04-10T00:00:00Z", false);
  // Every node of this cluster sees the same three in some order and must pick the same one.
  for (const seen of [[olderEmpty, busy, busyOlder], [busyOlder, olderEmpty, busy]]) {
    assert.equal(mergePlan(mine, seen).giveWayTo, busyOlder);
  }
});

Deno.test("its own cluster, seen through another node, is nothing to act on", () => {
  const mine = cluster("c-1", NEW, false);
  assert.deepEqual(mergePlan(mine, [cluster("c-1", OLD, false)]), {
    giveWayTo: undefined,
    conflicts: [],
  });
});

Deno.test("a cluster whose founding date is no date never makes this one give way", () => {
  const mine = cluster("c-2", NEW, true);
  assert.deepEqual(mergePlan(mine, [cluster("c-1", "yesterday", false)]), {
    giveWayTo: undefined,
    conflicts: [],
  });
});

Deno.test("the same cluster seen through two of its nodes is warned about once", () => {
  const mine = cluster("c-1", OLD, false);
  const b = { ...cluster("c-2", NEW, false), node: "pi-b", address: "10.0.0.2:7440" };
  const c = { ...b, node: "pi-c", address: "10.0.0.3:7440" };
  assert.deepEqual(mergePlan(mine, [b, c]).conflicts, [b]);
});

Deno.test("outranking: services first, then age, then id", () => {
  assert.ok(outranks(cluster("z", NEW, false), cluster("a", OLD, true)));
  assert.ok(outranks(cluster("z", OLD, true), cluster("a", NEW, true)));
  assert.ok(outranks(cluster("a", OLD, true), cluster("z", OLD, true)));
  assert.ok(!outranks(cluster("a", OLD, true), cluster("a", OLD, true)));
});

Deno.test("the warning names the other cluster, where it was seen, and what to do", () => {
  const text = conflictWarning({
    id: "c-2",
    created: NEW,
    empty: false,
    node: "pi-b",
    address: "10.0.0.2:7440",
  });
  assert.match(text, /c-2, node pi-b at 10\.0\.0\.2:7440/);
  assert.match(text, /not merged/);
  assert.match(text, /fossora rm/);
});
