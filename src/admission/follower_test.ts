import assert from "node:assert/strict";
import { followStep, RoleFollower, voterClientUrls } from "./follower.ts";
import type { CurrentAdmission, Member } from "./types.ts";

const PEER = "https://10.0.0.2:2380";

function member(name: string, o: Partial<Member> = {}): Member {
  return {
    id: `m-${name}`,
    name,
    peerUrls: [`https://${name}:2380`],
    clientUrls: [`https://${name}:2379`],
    isLearner: false,
    ...o,
  };
}

function promotion(step: CurrentAdmission["step"]): CurrentAdmission {
  return {
    id: "me",
    name: "me",
    role: "voter",
    step,
    peerUrl: PEER,
    cert: "",
    clientUrls: [],
    promotion: true,
    initialCluster: `a=https://a:2380,me=${PEER}`,
    startedAt: 0,
    progressAt: 0,
  };
}

Deno.test("a worker starts its member once the leader added it as a learner, not before", () => {
  const base = { self: "me", peerUrl: PEER, role: "worker" as const, members: [member("a")] };
  assert.equal(followStep({ ...base, current: promotion("adding") }).kind, "none");
  const learner = member("", { id: "m-new", peerUrls: [PEER], clientUrls: [], isLearner: true });
  assert.deepEqual(
    followStep({ ...base, members: [member("a"), learner], current: promotion("learner") }),
    { kind: "start-member", initialCluster: `a=https://a:2380,me=${PEER}` },
  );
  assert.equal(followStep({ ...base, current: undefined }).kind, "none");
});

Deno.test("a voter whose member left the list stops it; one still listed or being added does not", () => {
  const base = { self: "me", peerUrl: PEER, role: "voter" as const, current: undefined };
  assert.equal(followStep({ ...base, members: [member("a"), member("me")] }).kind, "none");
  assert.equal(followStep({ ...base, members: [member("a")] }).kind, "stop-member");
  assert.equal(followStep({ ...base, members: [] }).kind, "none", "no answer proves nothing");
  assert.equal(
    followStep({ ...base, members: [member("a")], current: promotion("adding") }).kind,
    "none",
  );
});

Deno.test("the voters' client URLs leave learners out", () => {
  assert.deepEqual(
    voterClientUrls([member("b"), member("a"), member("c", { isLearner: true })]),
    ["https://a:2379", "https://b:2379"],
  );
});

Deno.test("the follower stops its member only when two looks in a row find it gone", async () => {
  let members = [member("a"), member("me")];
  const stopped: string[] = [];
  const voters: string[][] = [];
  const f = new RoleFollower({
    self: "me",
    peerUrl: PEER,
    role: () => "voter",
    members: () => Promise.resolve(members),
    current: () => Promise.resolve(undefined),
    startMember: () => Promise.reject(new Error("not expected")),
    stopMember: (why) => (stopped.push(why), Promise.resolve()),
    voters: (urls) => voters.push(urls),
  });
  await f.once();
  members = [member("a")];
  await f.once();
  assert.equal(stopped.length, 0);
  await f.once();
  assert.equal(stopped.length, 1);
  assert.deepEqual(voters.at(-1), ["https://a:2379"]);
  // A failed read is no evidence either way.
  const failing = new RoleFollower({
    self: "me",
    peerUrl: PEER,
    role: () => "voter",
    members: () => Promise.reject(new Error("etcd away")),
    current: () => Promise.resolve(undefined),
    startMember: () => Promise.resolve(),
    stopMember: () => Promise.reject(new Error("not expected")),
    voters: () => assert.fail("no voters from a failed read"),
  });
  assert.equal((await failing.once()).kind, "none");
});
