import assert from "node:assert/strict";
import { decideFounding, founderAmong, foundingStep, type FoundingView } from "./founding.ts";

const TIMES = { windowMs: 4000, patienceMs: 20_000 };
const A = { id: "a000000000000001", name: "pi-a" };
const B = { id: "b000000000000002", name: "pi-b" };
const C = { id: "c000000000000003", name: "pi-c" };

function view(v: Partial<FoundingView>): FoundingView {
  return { self: B.id, clusters: 0, lone: [], elapsedMs: 0, ...v };
}

Deno.test("a cluster seen is joined at once, even inside the window", () => {
  assert.deepEqual(foundingStep(view({ clusters: 1, lone: [A] }), TIMES), { do: "join" });
});

Deno.test("nothing is decided before the window ends", () => {
  assert.equal(foundingStep(view({ elapsedMs: 3999 }), TIMES).do, "wait");
  assert.equal(foundingStep(view({ elapsedMs: 3999, lone: [C] }), TIMES).do, "wait");
});

Deno.test("alone after the window, a node founds", () => {
  const step = foundingStep(view({ elapsedMs: 4000 }), TIMES);
  assert.deepEqual(step, { do: "found", why: "no cluster nearby" });
});

Deno.test("of lone nodes that see each other, the smallest id founds and the others wait", () => {
  const a = foundingStep(view({ self: A.id, lone: [B, C], elapsedMs: 4000 }), TIMES);
  assert.deepEqual(a, { do: "found", why: "this node has the smallest id of 3 new nodes" });
  for (const self of [B, C]) {
    const lone = [A, B, C].filter((n) => n !== self);
    const step = foundingStep(view({ self: self.id, lone, elapsedMs: 4000 }), TIMES);
    assert.equal(step.do, "wait", self.name);
    assert.match((step as { why: string }).why, /^pi-a \(a000000000000001\) .* founds/);
  }
});

Deno.test("a lone node that does not found is waited for only until the patience runs out", () => {
  assert.equal(foundingStep(view({ lone: [A], elapsedMs: 23_999 }), TIMES).do, "wait");
  const step = foundingStep(view({ lone: [A], elapsedMs: 24_000 }), TIMES);
  assert.deepEqual(step, {
    do: "found",
    why: "pi-a (a000000000000001) did not found a cluster in 24 s",
  });
});

Deno.test("the founder is the smallest id other than this node's; none when this node's is", () => {
  assert.equal(founderAmong(C.id, [B, A]), A);
  assert.equal(founderAmong(A.id, [B, C]), undefined);
  // This node's own announcement, heard back, changes nothing.
  assert.equal(founderAmong(A.id, [A, B]), undefined);
  assert.equal(founderAmong(B.id, []), undefined);
});

/** A manual clock: sleep moves time on at once. */
function manualClock() {
  let t = 1_000_000;
  return {
    now: () => t,
    sleep: (ms: number) => {
      t += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => (t += ms),
  };
}

Deno.test("the loop waits for the founder's cluster to appear, then joins it", async () => {
  const clock = manualClock();
  const waits: string[] = [];
  const step = await decideFounding({
    ...TIMES,
    self: B.id,
    // The founder shows its cluster 6 s in (after the window, before the patience ends).
    look: () =>
      clock.now() - 1_000_000 >= 6000 ? { clusters: 1, lone: [] } : { clusters: 0, lone: [A] },
    signal: new AbortController().signal,
    now: clock.now,
    sleep: clock.sleep,
    onWait: (why) => waits.push(why),
  });
  assert.deepEqual(step, { do: "join" });
  assert.equal(waits.length, 2, "each reason is told once");
  assert.match(waits[1], /pi-a .* founds/);
});

Deno.test("the loop founds when no cluster shows up within the window", async () => {
  const clock = manualClock();
  const step = await decideFounding({
    ...TIMES,
    self: A.id,
    look: () => ({ clusters: 0, lone: [B] }),
    signal: new AbortController().signal,
    now: clock.now,
    sleep: clock.sleep,
  });
  assert.deepEqual(step, { do: "found", why: "this node has the smallest id of 2 new nodes" });
  assert.equal(clock.now() - 1_000_000, 4000);
});

Deno.test("the loop stops with the signal's reason", async () => {
  const ac = new AbortController();
  const stopping = new Error("the agent is stopping");
  const loop = decideFounding({
    ...TIMES,
    self: B.id,
    look: () => ({ clusters: 0, lone: [] }),
    signal: ac.signal,
    everyMs: 10,
  });
  ac.abort(stopping);
  await assert.rejects(loop, (err) => err === stopping);
});
