import assert from "node:assert/strict";
import { Detector } from "./detector.ts";

/** A detector for node `a` on a clock the test moves; b and c have records from the start. */
function setup(deadAfterMs = 2000) {
  let now = 0;
  const d = new Detector({ self: "a", deadAfterMs, now: () => now });
  d.dead(["b", "c"]);
  const seqs = new Map<string, number>();
  const hear = (from: string, heard: Record<string, number> = {}) => {
    const seq = (seqs.get(from) ?? 0) + 1;
    seqs.set(from, seq);
    return d.heard({ from, boot: "1", seq, heard });
  };
  return { d, hear, at: (ms: number) => now = ms };
}

Deno.test("a peer silent past the limit is dead once another peer has not heard it either", () => {
  const { d, hear, at } = setup();
  hear("b");
  hear("c", { b: 0 });
  at(1500);
  hear("c", { b: 1500 });
  assert.deepEqual(d.dead(["b", "c"]), [], "not silent long enough");
  at(2100);
  hear("c", { b: 2100 });
  assert.deepEqual(d.dead(["b", "c"]), [{ node: "b", silentMs: 2100, confirmedBy: ["c"] }]);
});

Deno.test("a peer that another node still hears is not dead: the link between two is at fault", () => {
  const { d, hear, at } = setup();
  hear("b");
  at(2500);
  hear("c", { b: 100 });
  assert.deepEqual(d.dead(["b"]), []);
});

Deno.test("with no other node to agree, silence alone is not death: the lease decides", () => {
  const { d, hear, at } = setup();
  hear("b");
  at(10_000);
  assert.deepEqual(d.dead(["b"]), [], "two-node cluster");
  hear("c", {});
  assert.deepEqual(d.dead(["b"]), [], "c never heard b: no opinion");
});

Deno.test("an opinion too old to count is left out", () => {
  const { d, hear, at } = setup();
  hear("b");
  hear("c", { b: 0 });
  at(5000);
  assert.deepEqual(d.dead(["b"]), [], "c itself has gone quiet");
});

Deno.test("a peer never heard is never called dead: its heartbeats may not reach this node", () => {
  const { d, hear, at } = setup();
  hear("c", { b: 9000 });
  at(9000);
  hear("c", { b: 18_000 });
  assert.deepEqual(d.dead(["b"]), []);
});

Deno.test("a peer acted on is not dead again until it is heard again", () => {
  const { d, hear, at } = setup();
  hear("b");
  at(3000);
  hear("c", { b: 3000 });
  assert.equal(d.dead(["b"]).length, 1);
  d.settle("b");
  at(6000);
  hear("c", { b: 6000 });
  assert.deepEqual(d.dead(["b"]), []);
  hear("b");
  at(9000);
  hear("c", { b: 3000 });
  assert.equal(d.dead(["b"]).length, 1, "heard again, then silent again");
});

Deno.test("a replayed or duplicated heartbeat is refused; a new boot starts over", () => {
  const { d } = setup();
  assert.equal(d.heard({ from: "b", boot: "1", seq: 5, heard: {} }), true);
  assert.equal(d.heard({ from: "b", boot: "1", seq: 5, heard: {} }), false);
  assert.equal(d.heard({ from: "b", boot: "1", seq: 4, heard: {} }), false);
  assert.equal(d.heard({ from: "b", boot: "2", seq: 1, heard: {} }), true);
  assert.equal(d.heard({ from: "a", boot: "1", seq: 1, heard: {} }), false, "from itself");
});

Deno.test("the report says how long ago each peer was heard, and forgets former members", () => {
  const { d, hear, at } = setup();
  hear("b");
  at(300);
  hear("c");
  at(1000);
  assert.deepEqual(d.report(), { b: 1000, c: 700 });
  d.keepOnly(["c"]);
  assert.deepEqual(d.report(), { c: 700 });
});

Deno.test("a restarted peer is not judged by the silence before its record came back", () => {
  const { d, hear, at } = setup();
  hear("b");
  hear("c", { b: 0 });
  at(1000);
  assert.deepEqual(d.dead(["c"]), [], "b's record is gone (stopped)");
  at(5000);
  hear("c", { b: 5000 });
  assert.deepEqual(d.dead(["b", "c"]), [], "b's record is back, b not heard since");
  at(9000);
  hear("c", { b: 9000 });
  assert.deepEqual(d.dead(["b", "c"]), [], "still not heard: its lease decides");
  hear("b");
  at(11_500);
  hear("c", { b: 2500 });
  assert.deepEqual(d.dead(["b", "c"]).map((v) => v.node), ["b"], "heard, then silent");
});

Deno.test("silent lists peers this node alone has not heard lately, without asking the others", () => {
  const { d, hear, at } = setup();
  hear("b");
  at(1000);
  hear("c");
  at(2500);
  assert.deepEqual([...d.silent()], ["b"]);
});

Deno.test("a report sent before the silence began does not confirm it: a node cut off judges nobody", () => {
  const { d, hear, at } = setup();
  hear("b");
  at(150);
  // c's last report before this node's link went: it had heard b 150 ms before.
  hear("c", { b: 150 });
  at(2100);
  assert.deepEqual(d.dead(["b", "c"]), [], "b and c both silent, c's opinion is old");
  at(10_000);
  assert.deepEqual(d.dead(["b", "c"]), []);
});
