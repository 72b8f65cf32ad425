import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import type { PeerRtt } from "./rtt.ts";
import type { EtcdTiming } from "./timing.ts";
import { EtcdTuner, type TunedMember, type TuningLock } from "./tuner.ts";

const DEFAULT = { heartbeatMs: 100, electionMs: 1000 };

/** A member that records its restarts; `gate` holds a restart until opened. */
class FakeMember implements TunedMember {
  restarts: EtcdTiming[] = [];
  fail = false;
  gate: Promise<void> = Promise.resolve();
  constructor(public timing: EtcdTiming = DEFAULT) {}
  async restartWith(t: EtcdTiming): Promise<void> {
    this.restarts.push(t);
    await this.gate;
    if (this.fail) throw new Error("not healthy within 30000 ms");
    this.timing = t;
  }
}

/** One lock shared by fake members, as the etcd key is by real ones; `for` gives one member's. */
class FakeLock {
  releases = 0;
  constructor(readonly shared: { holder?: string } = {}) {}
  for(name: string): TuningLock {
    return {
      tryAcquire: () => {
        if (this.shared.holder) return Promise.resolve(undefined);
        this.shared.holder = name;
        return Promise.resolve(() => {
          this.shared.holder = undefined;
          this.releases++;
          return Promise.resolve();
        });
      },
    };
  }
}

/** Measurements, one list of round trips a round (one peer each unless given more). */
function rounds(...ms: (number | number[] | string)[]): () => Promise<PeerRtt[]> {
  return () => {
    const r = ms.shift();
    if (r === undefined) throw new Error("the test gave no more rounds");
    if (typeof r === "string") return Promise.resolve([{ url: "https://b:2380", error: r }]);
    const list = Array.isArray(r) ? r : [r];
    return Promise.resolve(list.map((rttMs, i) => ({ url: `https://p${i}:2380`, rttMs })));
  };
}

function tuner(
  member: FakeMember,
  measure: () => Promise<PeerRtt[]>,
  lock: TuningLock = new FakeLock().for("a"),
  applied: EtcdTiming[] = [],
) {
  return new EtcdTuner({ member, measure, lock, onApplied: (t) => void applied.push(t) });
}

Deno.test("a lone member, or a peer that does not answer, is left as it runs", async () => {
  const member = new FakeMember();
  const t = new EtcdTuner({
    member,
    measure: () => Promise.resolve([]),
    lock: new FakeLock().for("a"),
  });
  assert.deepEqual(await t.tune(), { kind: "skipped", why: "no peers" });
  const down = tuner(member, rounds("3 of 5 round trips failed", "3 of 5 round trips failed"));
  assert.equal((await down.tune()).kind, "skipped");
  assert.equal((await down.tune()).kind, "skipped");
  const broken = tuner(member, () => Promise.reject(new Error("etcd unavailable")));
  assert.match((await broken.tune() as { why: string }).why, /etcd unavailable/);
  assert.deepEqual(member.restarts, []);
});

Deno.test("a round trip the running timing covers changes nothing", async () => {
  const member = new FakeMember();
  const t = tuner(member, rounds([2, 40, 95], 80));
  assert.equal((await t.tune()).kind, "kept");
  assert.equal((await t.tune()).kind, "kept");
  assert.deepEqual(member.restarts, []);
});

Deno.test("100 ms of round trip restarts the member once two rounds agree, then records and releases", async () => {
  const member = new FakeMember();
  const lock = new FakeLock();
  const applied: EtcdTiming[] = [];
  const t = tuner(member, rounds([3, 104], [2, 102], [3, 105]), lock.for("a"), applied);
  assert.deepEqual(await t.tune(), {
    kind: "confirming",
    wanted: { heartbeatMs: 150, electionMs: 1500 },
  });
  assert.deepEqual(member.restarts, [], "one round is not enough");
  assert.deepEqual(await t.tune(), {
    kind: "applied",
    timing: { heartbeatMs: 150, electionMs: 1500 },
  });
  assert.deepEqual(member.restarts, [{ heartbeatMs: 150, electionMs: 1500 }]);
  assert.deepEqual(applied, [{ heartbeatMs: 150, electionMs: 1500 }]);
  assert.deepEqual(t.current, { heartbeatMs: 150, electionMs: 1500 });
  assert.equal(lock.releases, 1);
  assert.equal(lock.shared.holder, undefined);
  assert.equal((await t.tune()).kind, "kept", "and then it stays");
});

Deno.test("one slow round restarts nothing, and of two rounds the smaller change is applied", async () => {
  const spike = new FakeMember();
  const t = tuner(spike, rounds(400, 20, 20));
  assert.equal((await t.tune()).kind, "confirming");
  assert.equal((await t.tune()).kind, "kept");
  assert.equal((await t.tune()).kind, "kept");
  assert.deepEqual(spike.restarts, []);

  const member = new FakeMember();
  const both = tuner(member, rounds(320, 160));
  await both.tune();
  assert.deepEqual(await both.tune(), {
    kind: "applied",
    timing: { heartbeatMs: 200, electionMs: 2000 },
  });
});

Deno.test("a member tuned far looser than needed comes back down after two rounds", async () => {
  const member = new FakeMember({ heartbeatMs: 1000, electionMs: 10_000 });
  const t = tuner(member, rounds(30, 12));
  assert.equal((await t.tune()).kind, "confirming");
  assert.deepEqual(await t.tune(), { kind: "applied", timing: DEFAULT });
});

Deno.test("while another member holds the lock this one waits, then restarts when it is free", async () => {
  const lock = new FakeLock({ holder: "b" });
  const member = new FakeMember();
  const t = tuner(member, rounds(120, 120, 120), lock.for("a"));
  await t.tune();
  assert.equal((await t.tune()).kind, "busy");
  assert.deepEqual(member.restarts, []);
  lock.shared.holder = undefined;
  assert.equal((await t.tune()).kind, "applied", "the wanted change is still confirmed");
});

Deno.test("a restart that does not end healthy keeps the lock and records nothing", async () => {
  const lock = new FakeLock();
  const member = new FakeMember();
  member.fail = true;
  const applied: EtcdTiming[] = [];
  const t = tuner(member, rounds(120, 120), lock.for("a"), applied);
  await t.tune();
  const outcome = await t.tune();
  assert.equal(outcome.kind, "failed");
  assert.match((outcome as { error: string }).error, /not healthy/);
  assert.equal(lock.shared.holder, "a", "no other member restarts until the lease runs out");
  assert.deepEqual(applied, []);
});

Deno.test("three members that all want new timing restart one at a time", async () => {
  const lock = new FakeLock();
  let open!: () => void;
  const gate = new Promise<void>((r) => open = r);
  const members = ["a", "b", "c"].map(() => new FakeMember());
  const tuners = members.map((m, i) =>
    tuner(m, rounds(110, 110, 110, 110, 110, 110), lock.for("abc"[i]))
  );
  for (const t of tuners) assert.equal((await t.tune()).kind, "confirming");
  members[0].gate = gate;
  const first = tuners[0].tune();
  await waitFor("a's restart to begin", () => members[0].restarts.length === 1);
  const others = await Promise.all([tuners[1].tune(), tuners[2].tune()]);
  assert.deepEqual(others.map((o) => o.kind), ["busy", "busy"], "not while a restarts");
  open();
  assert.equal((await first).kind, "applied");
  assert.equal((await tuners[1].tune()).kind, "applied");
  assert.equal((await tuners[2].tune()).kind, "applied");
  assert.deepEqual(members.map((m) => m.timing.heartbeatMs), [150, 150, 150]);
});

Deno.test("started, it tunes every interval; stop() ends the rounds", async () => {
  const counted = (member: FakeMember) => {
    const count = { rounds: 0 };
    const tuner = new EtcdTuner({
      member,
      measure: () => (count.rounds++, Promise.resolve([{ url: "https://b:2380", rttMs: 130 }])),
      lock: new FakeLock().for("a"),
      intervalMs: 10,
    });
    return { tuner, count };
  };
  const member = new FakeMember();
  const t = counted(member);
  t.tuner.start();
  try {
    await waitFor("the member to be retuned", () => member.restarts.length === 1, 5000, 10);
  } finally {
    await t.tuner.stop();
  }
  const after = t.count.rounds;
  // A second tuner on the same interval is the clock: three of its rounds, none of the first's.
  const reference = counted(new FakeMember());
  reference.tuner.start();
  try {
    await waitFor("three rounds of the reference", () => reference.count.rounds >= 3, 5000, 10);
  } finally {
    await reference.tuner.stop();
  }
  assert.equal(t.count.rounds, after, "no round after stop()");
});

Deno.test("a round that throws (a probe answering nonsense) is skipped and the rounds go on", async () => {
  let rounds = 0;
  const t = new EtcdTuner({
    member: new FakeMember(),
    measure: () => (rounds++, Promise.resolve([{ url: "https://b:2380", rttMs: NaN }])),
    lock: new FakeLock().for("a"),
    intervalMs: 10,
  });
  await assert.rejects(t.tune(), /finite number of ms/);
  t.start();
  try {
    await waitFor("three more rounds", () => rounds >= 4, 5000, 10);
  } finally {
    await t.stop();
  }
});
