import assert from "node:assert/strict";
import { type AdmissionState, admissionStep, DEFAULT_ADMISSION, targetVoters } from "./step.ts";
import type { CurrentAdmission, Member, QueuedJoin } from "./types.ts";

const o = DEFAULT_ADMISSION;
const NOW = 1_000_000;

function join(id: string, over: Partial<QueuedJoin> = {}): QueuedJoin {
  return {
    id,
    name: `n-${id}`,
    address: "10.0.0.9",
    apiPort: 7440,
    etcdPeerPort: 2380,
    etcdClientPort: 2379,
    arch: "amd64",
    site: "default",
    version: "0",
    csr: "CSR",
    ticketHash: "h",
    trust: "token",
    trustWhy: "the join token",
    queuedAt: NOW - 5000,
    seenAt: NOW - 1000,
    ...over,
  };
}

function member(id: string, isLearner = false, name = id): Member {
  return {
    id: `m-${id}`,
    name,
    peerUrls: [`https://${id}:2380`],
    clientUrls: [`https://${id}:2379`],
    isLearner,
  };
}

function current(over: Partial<CurrentAdmission> = {}): CurrentAdmission {
  return {
    id: "j",
    name: "n-j",
    role: "voter",
    step: "learner",
    peerUrl: "https://j:2380",
    memberId: "m-j",
    cert: "CERT",
    clientUrls: ["https://a:2379"],
    startedAt: NOW - 3000,
    progressAt: NOW - 3000,
    ...over,
  };
}

function state(over: Partial<AdmissionState> = {}): AdmissionState {
  return {
    queue: [],
    current: undefined,
    members: [member("a")],
    liveNodes: new Set(["a"]),
    now: NOW,
    ...over,
  };
}

Deno.test("voters are the largest odd count up to the nodes, at most the setting", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 9].map((n) => targetVoters(n, 5)), [
    1,
    1,
    3,
    3,
    5,
    5,
    5,
    5,
  ]);
  assert.equal(targetVoters(9, 7), 7);
  assert.equal(targetVoters(4, 1), 1);
});

Deno.test("the oldest trusted request is admitted first; pending ones wait for approval", () => {
  const queue = [
    join("late", { queuedAt: NOW - 100 }),
    join("pend", { queuedAt: NOW - 9000, trust: "pending" }),
    join("early", { queuedAt: NOW - 2000 }),
  ];
  const a = admissionStep(state({ queue }), o);
  assert.equal(a.kind, "start");
  assert.equal(a.kind === "start" && a.join.id, "early");
  const only = admissionStep(state({ queue: [join("p", { trust: "pending" })] }), o);
  assert.deepEqual(only, { kind: "wait", why: "every queued node waits for approval" });
  assert.deepEqual(admissionStep(state(), o), { kind: "wait", why: "nobody is queued" });
});

Deno.test("the second node is a worker, the third a voter, up to the voter limit", () => {
  const role = (members: Member[], live: string[], max = 5) => {
    const a = admissionStep(
      state({ queue: [join("new")], members, liveNodes: new Set(live) }),
      { ...o, maxVoters: max },
    );
    return a.kind === "start" ? a.role : a.kind;
  };
  assert.equal(role([member("a")], ["a"]), "worker");
  assert.equal(role([member("a")], ["a", "w1"]), "voter");
  assert.equal(role([member("a"), member("b"), member("c")], ["a", "b", "c"]), "worker");
  assert.equal(role([member("a"), member("b"), member("c")], ["a", "b", "c", "w"]), "voter");
  assert.equal(role([member("a"), member("b"), member("c")], ["a", "b", "c", "w"], 3), "worker");
});

Deno.test("with others queued behind it, a joiner comes in as a worker: everyone is in first", () => {
  const queue = [join("new", { queuedAt: 1 }), join("later", { queuedAt: 2 })];
  const a = admissionStep(
    state({ queue, members: [member("a")], liveNodes: new Set(["a", "w1"]) }),
    o,
  );
  assert.ok(a.kind === "start" && a.join.id === "new" && a.role === "worker", JSON.stringify(a));
  // A node waiting for approval is not "behind it": it may wait for hours.
  const pending = [queue[0], join("stranger", { queuedAt: 2, trust: "pending" })];
  const b = admissionStep(
    state({ queue: pending, members: [member("a")], liveNodes: new Set(["a", "w1"]) }),
    o,
  );
  assert.ok(b.kind === "start" && b.role === "voter", JSON.stringify(b));
});

Deno.test("while a voter is down, joiners come in as workers and a voter being added is undone", () => {
  const members = [member("a"), member("b"), member("c")];
  const live = new Set(["a", "b", "w"]); // c's node record is gone
  const a = admissionStep(state({ queue: [join("new")], members, liveNodes: live }), o);
  assert.ok(a.kind === "start" && a.role === "worker");
  const adding = current({ step: "adding", memberId: undefined });
  const b = admissionStep(state({ current: adding, members, liveNodes: live }), o);
  assert.ok(b.kind === "abort" && /a voter is down \(c\)/.test(b.why) && !b.memberId);
});

Deno.test("one admission at a time: a learner is promoted, then the admission finishes", () => {
  const queue = [join("j"), join("k")];
  const learning = state({ queue, current: current(), members: [member("a"), member("j", true)] });
  assert.deepEqual(admissionStep(learning, o), { kind: "promote", memberId: "m-j" });
  const promoted = { ...learning, members: [member("a"), member("j")] };
  assert.deepEqual(admissionStep(promoted, o), { kind: "finish", id: "j", role: "voter" });
});

Deno.test("a learner that does not catch up in time is removed and the queue moves on", () => {
  const s = state({
    current: current({ progressAt: NOW - o.learnerTimeoutMs - 1 }),
    members: [member("a"), member("j", true)],
  });
  const a = admissionStep(s, o);
  assert.equal(a.kind, "abort");
  assert.ok(a.kind === "abort" && a.memberId === "m-j" && a.timedOut);
  assert.match(a.kind === "abort" ? a.why : "", /did not catch up within 60 s/);
});

Deno.test("a learner whose joiner never starts its member is removed sooner", () => {
  const unstarted = [member("a"), member("j", true, "")];
  const young = current({ progressAt: NOW - o.unstartedTimeoutMs + 1 });
  assert.equal(admissionStep(state({ current: young, members: unstarted }), o).kind, "promote");
  const old = current({ progressAt: NOW - o.unstartedTimeoutMs - 1 });
  const a = admissionStep(state({ current: old, members: unstarted }), o);
  assert.ok(a.kind === "abort" && a.timedOut && /did not start within 15 s/.test(a.why));
  // Started (named) and catching up: it gets the whole catch-up time.
  const started = [member("a"), member("j", true)];
  assert.equal(admissionStep(state({ current: old, members: started }), o).kind, "promote");
});

Deno.test("a dead leader's half-done step is finished or undone by the next", () => {
  // Recorded as adding, but the learner exists: the leader died before recording its id.
  const adding = current({ step: "adding", memberId: undefined });
  const withLearner = state({ current: adding, members: [member("a"), member("j", true, "")] });
  assert.deepEqual(admissionStep(withLearner, o), { kind: "adopt-learner", memberId: "m-j" });
  // Recorded as adding, no learner yet: add it.
  assert.deepEqual(admissionStep(state({ current: adding }), o), { kind: "add-learner" });
  // A learner no admission owns blocks all others.
  const orphan = state({ queue: [join("k")], members: [member("a"), member("x", true, "")] });
  assert.deepEqual(admissionStep(orphan, o), { kind: "remove-orphan", memberId: "m-x", name: "" });
  // The recorded learner was removed by hand: undo the admission.
  const gone = admissionStep(state({ current: current() }), o);
  assert.equal(gone.kind, "abort");
});

Deno.test("a worker is in once its node record is live, or is given up after the timeout", () => {
  const worker = current({ role: "worker", step: "issued", memberId: undefined });
  assert.equal(admissionStep(state({ current: worker }), o).kind, "wait");
  assert.deepEqual(
    admissionStep(state({ current: worker, liveNodes: new Set(["a", "j"]) }), o),
    { kind: "finish", id: "j", role: "worker" },
  );
  const late = { ...worker, progressAt: NOW - o.workerTimeoutMs - 1 };
  assert.equal(admissionStep(state({ current: late }), o).kind, "abort");
});

Deno.test("a request its joiner stopped renewing is dropped", () => {
  const s = state({ queue: [join("gone", { seenAt: NOW - o.staleMs - 1 }), join("k")] });
  const a = admissionStep(s, o);
  assert.equal(a.kind, "drop");
  assert.ok(a.kind === "drop" && a.id === "gone");
});
