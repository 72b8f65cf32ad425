import assert from "node:assert/strict";
import type { MemberRecord } from "../state/types.ts";
import { type RolesAction, type RolesState, rolesStep } from "./roles.ts";
import type { Member } from "./types.ts";

const SETTINGS = { maxVoters: 5, voterGraceMs: 30_000 };
const NOW = 1_000_000;

function record(id: string, o: Partial<MemberRecord> = {}): MemberRecord {
  return {
    id,
    name: `n-${id}`,
    address: "10.0.0.1",
    site: "default",
    arch: "amd64",
    apiPort: 7440,
    etcdPeerPort: 2380,
    etcdClientPort: 2379,
    role: "worker",
    joinedAt: Number(id.replace(/\D/g, "")) || 0,
    ...o,
  };
}

function voter(id: string, learner = false): Member {
  return { id: `m${id}`, name: id, peerUrls: [], clientUrls: [], isLearner: learner };
}

/** A cluster where `voters` vote, every record is live unless listed in `down`. */
function state(
  records: MemberRecord[],
  voters: string[],
  o: Partial<RolesState> & { down?: string[] } = {},
): RolesState {
  const down = new Set(o.down ?? []);
  return {
    members: voters.map((v) => voter(v)),
    records,
    liveNodes: new Set(records.map((r) => r.id).filter((id) => !down.has(id))),
    downSince: new Map([...down].map((id) => [id, NOW - 40_000])),
    cooldown: new Map(),
    self: voters[0] ?? "",
    now: NOW,
    ...o,
  };
}

function kind(a: RolesAction): string {
  return a.kind === "promote-worker"
    ? `promote ${a.record.id}`
    : a.kind === "remove-voter"
    ? `remove ${a.id}`
    : a.kind === "forget" || a.kind === "release"
    ? `${a.kind} ${a.id}`
    : "none";
}

Deno.test("a third live node makes the lone voter's worker a voter too, then nothing moves", () => {
  const rs = [record("a1"), record("b2"), record("c3")];
  assert.equal(kind(rolesStep(state(rs, ["a1", "c3"]), SETTINGS)), "promote b2");
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2", "c3"]), SETTINGS)), "none");
  // Two nodes keep one voter: the second vote would make either failure stop the cluster.
  assert.equal(kind(rolesStep(state(rs.slice(0, 2), ["a1"]), SETTINGS)), "none");
  assert.equal(kind(rolesStep(state(rs.slice(0, 2), ["a1", "b2"]), SETTINGS)), "remove b2");
});

Deno.test("a voter down past the grace period loses its vote, and a worker takes it", () => {
  const rs = [record("a1"), record("b2"), record("c3"), record("d4")];
  const early = state(rs, ["a1", "b2", "c3"], { down: ["c3"] });
  const grace = rolesStep({ ...early, downSince: new Map([["c3", NOW - 10_000]]) }, SETTINGS);
  assert.equal(kind(grace), "none", "within the grace period nothing moves");
  const removed = rolesStep(early, SETTINGS);
  assert.equal(kind(removed), "remove c3");
  assert.match((removed as { why: string }).why, /down for 40 s/);
  // Once removed, the live worker is promoted: three healthy voters again.
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2"], { down: ["c3"] }), SETTINGS)), "promote d4");
});

Deno.test("no vote is removed when the rest would lose quorum", () => {
  const rs = [record("a1"), record("b2"), record("c3")];
  // Two of three down: the survivor cannot remove either (and etcd would refuse anyway).
  assert.equal(
    kind(rolesStep(state(rs, ["a1", "b2", "c3"], { down: ["b2", "c3"] }), SETTINGS)),
    "none",
  );
});

Deno.test("new voters come from a site without one; a crowded site gives one back", () => {
  const rs = [
    record("a1", { site: "home" }),
    record("b2", { site: "home" }),
    record("c3", { site: "home" }),
    record("d4", { site: "cabin" }),
  ];
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2", "c3"]), SETTINGS)), "promote d4");
  const four = rolesStep(state(rs, ["a1", "b2", "c3", "d4"]), SETTINGS);
  assert.equal(four.kind, "remove-voter");
  assert.notEqual((four as { id: string }).id, "d4", "the lone cabin voter stays");
  assert.notEqual((four as { id: string }).id, "a1", "the node deciding keeps its own vote");
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2", "d4"]), SETTINGS)), "none");
});

Deno.test("a leaving voter hands its vote to a worker first, then loses it; a leaving worker is released", () => {
  const rs = [record("a1"), record("b2"), record("c3", { leaving: true }), record("d4")];
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2", "c3"]), SETTINGS)), "promote d4");
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2", "c3", "d4"]), SETTINGS)), "remove c3");
  const worker = [record("a1"), record("b2", { leaving: true })];
  assert.equal(kind(rolesStep(state(worker, ["a1"]), SETTINGS)), "release b2");
});

Deno.test("the old record of a node reinstalled under the same name is forgotten, vote included", () => {
  const rs = [record("a1"), record("b2"), record("c3"), record("x9", { name: "n-c3" })];
  const a = rolesStep(state(rs, ["a1", "b2", "c3"], { down: ["c3"] }), SETTINGS);
  assert.deepEqual(
    { kind: a.kind, id: (a as { id: string }).id, memberId: (a as { memberId: string }).memberId },
    { kind: "forget", id: "c3", memberId: "mc3" },
  );
});

Deno.test("nothing changes while a learner catches up or a voter is down within its grace", () => {
  const rs = [record("a1"), record("b2"), record("c3")];
  const s = state(rs, ["a1"]);
  assert.equal(
    kind(rolesStep({ ...s, members: [...s.members, voter("b2", true)] }, SETTINGS)),
    "none",
  );
  const down = state(rs, ["a1", "b2"], { down: ["b2"], downSince: new Map([["b2", NOW]]) });
  assert.equal(kind(rolesStep(down, SETTINGS)), "none");
});

Deno.test("a worker whose promotion failed is passed over until its cooldown ends", () => {
  const rs = [record("a1"), record("b2"), record("c3")];
  const s = state(rs, ["a1", "c3"], { cooldown: new Map([["b2", NOW + 1000]]) });
  assert.equal(kind(rolesStep(s, SETTINGS)), "none");
  assert.equal(kind(rolesStep({ ...s, now: NOW + 2000 }, SETTINGS)), "promote b2");
});

Deno.test("--max-voters caps the voters; going over it gives votes back", () => {
  const rs = ["a1", "b2", "c3", "d4", "e5"].map((id) => record(id));
  const one = { ...SETTINGS, maxVoters: 1 };
  assert.equal(kind(rolesStep(state(rs, ["a1"]), one)), "none");
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2", "c3"]), one)).startsWith("remove"), true);
});

Deno.test("a worker down for less than the grace period still counts: no vote is given back", () => {
  const rs = [record("a1"), record("b2"), record("c3", { downAt: NOW - 5_000 })];
  assert.equal(kind(rolesStep(state(rs, ["a1", "b2"], { down: ["c3"] }), SETTINGS)), "none");
  const long = [record("a1"), record("b2"), record("c3", { downAt: NOW - 60_000 })];
  assert.equal(kind(rolesStep(state(long, ["a1", "b2"], { down: ["c3"] }), SETTINGS)), "remove b2");
});
