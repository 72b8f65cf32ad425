import assert from "node:assert/strict";
import { DEFAULT_TIMING, etcdTiming, needsRetune, timingProblem } from "./timing.ts";

Deno.test("a lone member or a LAN keeps etcd's defaults (100 ms, 1 s)", () => {
  assert.deepEqual(etcdTiming([]), DEFAULT_TIMING);
  assert.deepEqual(etcdTiming([0.4, 2, 12]), DEFAULT_TIMING);
  assert.deepEqual(etcdTiming([100]), DEFAULT_TIMING);
});

Deno.test("the heartbeat is the largest round trip rounded up to 50 ms, the election ten of it", () => {
  assert.deepEqual(etcdTiming([3, 101]), { heartbeatMs: 150, electionMs: 1500 });
  assert.deepEqual(etcdTiming([149.9, 20]), { heartbeatMs: 150, electionMs: 1500 });
  assert.deepEqual(etcdTiming([150.1]), { heartbeatMs: 200, electionMs: 2000 });
  assert.deepEqual(etcdTiming([320, 40]), { heartbeatMs: 350, electionMs: 3500 });
  for (const rtt of [0, 7, 99, 100.5, 250, 999, 4321]) {
    const t = etcdTiming([rtt]);
    assert.ok(t.heartbeatMs >= rtt, `heartbeat covers a round trip of ${rtt}`);
    assert.ok(t.heartbeatMs < Math.max(100, rtt) + 50, `heartbeat ≈ round trip ${rtt}`);
    assert.ok(t.electionMs >= 10 * rtt, `election ≥ 10 round trips of ${rtt}`);
    assert.equal(timingProblem(t), undefined, `etcd accepts the timing for ${rtt}`);
  }
});

Deno.test("a round trip beyond reason is capped at etcd's limit (election 50 s)", () => {
  assert.deepEqual(etcdTiming([4999]), { heartbeatMs: 5000, electionMs: 50_000 });
  assert.deepEqual(etcdTiming([60_000]), { heartbeatMs: 5000, electionMs: 50_000 });
});

Deno.test("a round trip that is not a number ≥ 0 is refused with what was given", () => {
  assert.throws(() => etcdTiming([10, NaN]), /finite number of ms ≥ 0, not NaN/);
  assert.throws(() => etcdTiming([-1]), /not -1/);
  assert.throws(() => etcdTiming([Infinity]), /not Infinity/);
});

Deno.test("any rise restarts; a fall restarts only below half of what runs", () => {
  const at = (heartbeatMs: number) => ({ heartbeatMs, electionMs: heartbeatMs * 10 });
  assert.equal(needsRetune(at(100), at(100)), false);
  assert.equal(needsRetune(at(100), at(150)), true, "too tight risks elections");
  assert.equal(needsRetune(at(150), at(100)), false, "jitter back under a step stays put");
  assert.equal(needsRetune(at(300), at(150)), false, "half is not less than half");
  assert.equal(needsRetune(at(300), at(100)), true, "far too loose slows take-over");
  assert.equal(needsRetune(at(100), { heartbeatMs: 100, electionMs: 1500 }), true);
  assert.equal(needsRetune({ heartbeatMs: 100, electionMs: 3000 }, at(100)), true);
});

Deno.test("a round trip wavering across a step moves the timing up once, never back", () => {
  let running = { ...DEFAULT_TIMING };
  let restarts = 0;
  for (const rtt of [98, 103, 97, 104, 99, 101, 96, 105]) {
    const wanted = etcdTiming([rtt]);
    if (needsRetune(running, wanted)) {
      running = wanted;
      restarts++;
    }
  }
  assert.equal(restarts, 1);
  assert.deepEqual(running, { heartbeatMs: 150, electionMs: 1500 });
});

Deno.test("timing etcd would refuse gets an error that says what to give", () => {
  assert.match(timingProblem({ heartbeatMs: 200, electionMs: 900 })!, /at least 1000 ms/);
  assert.match(timingProblem({ heartbeatMs: 0, electionMs: 1000 })!, /whole number of ms ≥ 1/);
  assert.match(timingProblem({ heartbeatMs: 100, electionMs: 60_000 })!, /limit of 50000 ms/);
  assert.match(timingProblem({ heartbeatMs: 100, electionMs: 1000.5 })!, /whole number/);
  assert.equal(timingProblem(DEFAULT_TIMING), undefined);
});
