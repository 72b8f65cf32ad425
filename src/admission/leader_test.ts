/**
 * The admission leader on real etcd: a worker gets its certificate and is in once it connects;
 * a voter becomes a learner, a real second etcd member catches up and is promoted; a learner that
 * never starts is removed after the timeout; what a dead leader left behind is finished or undone.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { startEtcd, type TestEtcd } from "../../test/helpers/etcd.ts";
import { freePort } from "../../test/helpers/ports.ts";
import {
  type ClusterCA,
  EtcdSupervisor,
  installNodeCert,
  newKeyAndRequest,
  signNodeRequest,
} from "../etcd/mod.ts";
import { families } from "../state/keys.ts";
import { AdmissionLeader, admissionLog, CURRENT, peerUrlOf } from "./leader.ts";
import { etcdMembership } from "./membership.ts";
import type { CurrentAdmission, QueuedJoin } from "./types.ts";

async function caOf(etcd: TestEtcd): Promise<ClusterCA> {
  const dir = dirname(etcd.tls!.caFile);
  return {
    certPem: await Deno.readTextFile(`${dir}/ca.crt`),
    keyPem: await Deno.readTextFile(`${dir}/ca.key`),
  };
}

async function queue(etcd: TestEtcd, dir: string, id: string, now: number): Promise<QueuedJoin> {
  const join: QueuedJoin = {
    id,
    name: `node-${id}`,
    address: "127.0.0.1",
    apiPort: 7440,
    etcdPeerPort: freePort(),
    etcdClientPort: freePort(),
    arch: "amd64",
    site: "default",
    version: "test",
    csr: await newKeyAndRequest(`${dir}/${id}.key`, `node-${id}`),
    ticketHash: "x",
    trust: "token",
    trustWhy: "the join token",
    queuedAt: now,
    seenAt: now,
  };
  await etcd.store.put(families.admission, ["queue", id], join);
  return join;
}

function leaderOn(etcd: TestEtcd, ca: ClusterCA, live: Set<string>, clock: { t: number }) {
  return new AdmissionLeader({
    store: etcd.store,
    membership: etcdMembership(etcd.store.client),
    sign: (csr, name, ips) => signNodeRequest(ca, csr, name, ips),
    liveNodes: () => live,
    leading: () => true,
    nodeId: "test",
    now: () => clock.t,
  });
}

/** A voter's admission recorded at "adding", as a leader writes it before adding the learner. */
function addingOf(j: QueuedJoin, etcd: TestEtcd, t: number): CurrentAdmission {
  return {
    id: j.id,
    name: j.name,
    role: "voter",
    step: "adding",
    peerUrl: peerUrlOf(j),
    cert: "CERT",
    clientUrls: [etcd.url],
    startedAt: t,
    progressAt: t,
  };
}

async function current(etcd: TestEtcd): Promise<CurrentAdmission | undefined> {
  return (await etcd.store.get<CurrentAdmission>(families.admission, ...CURRENT))?.value;
}

Deno.test("a worker gets a certificate for its key and is in once its node record is live", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir();
  try {
    const ca = await caOf(etcd);
    const clock = { t: 1_000_000 };
    const live = new Set(["test"]);
    const leader = leaderOn(etcd, ca, live, clock);
    await queue(etcd, dir, "w1", clock.t);
    assert.deepEqual((await leader.step()).kind, "start");
    const c = (await current(etcd))!;
    assert.equal(c.role, "worker");
    assert.equal(c.step, "issued");
    assert.deepEqual(c.clientUrls, [etcd.url]);
    // The certificate is for the joiner's own key.
    await installNodeCert(`${dir}/pki`, ca.certPem, c.cert, `${dir}/w1.key`);
    assert.equal((await leader.step()).kind, "wait");
    live.add("w1");
    assert.deepEqual(await leader.step(), { kind: "finish", id: "w1", role: "worker" });
    assert.equal(await current(etcd), undefined);
    assert.deepEqual(await etcd.store.list(families.admission, "queue"), []);
    const log = (await admissionLog(etcd.store)).map((e) => `${e.name} ${e.event}`);
    assert.deepEqual(log, ["node-w1 admitting", "node-w1 certificate-issued", "node-w1 admitted"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a voter is added as a learner, catches up on a real member and is promoted", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir();
  let joiner: EtcdSupervisor | undefined;
  try {
    const ca = await caOf(etcd);
    const clock = { t: Date.now() };
    // A third node makes the target three voters, so the joiner is a voter.
    const leader = leaderOn(etcd, ca, new Set(["test", "some-worker"]), clock);
    const j = await queue(etcd, dir, "v1", clock.t);
    assert.equal((await leader.step()).kind, "start");
    const c = (await current(etcd))!;
    assert.equal(c.role, "voter");
    assert.equal(c.step, "learner");
    assert.equal(c.peerUrl, peerUrlOf(j));
    assert.match(c.initialCluster!, new RegExp(`^test=https://.*,v1=${c.peerUrl}$|v1=`));
    const members = await etcdMembership(etcd.store.client).list();
    assert.deepEqual(members.filter((m) => m.isLearner).map((m) => m.id), [c.memberId]);
    // The joiner starts its member from what the leader answered.
    const tls = await installNodeCert(`${dir}/pki`, ca.certPem, c.cert, `${dir}/v1.key`);
    joiner = new EtcdSupervisor({
      bin: "etcd",
      dataDir: `${dir}/etcd`,
      name: "v1",
      clientPort: j.etcdClientPort,
      peerPort: j.etcdPeerPort,
      tls,
      initialCluster: c.initialCluster,
    });
    await joiner.start();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const a = await leader.step();
      if (a.kind === "finish") break;
      assert.ok(a.kind === "promote", `unexpected ${a.kind}`);
      assert.ok(Date.now() < deadline, "the learner was never promoted");
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await etcdMembership(etcd.store.client).list();
    assert.equal(after.length, 2);
    assert.ok(after.every((m) => !m.isLearner));
    const log = (await admissionLog(etcd.store)).map((e) => e.event);
    assert.deepEqual(log, ["admitting", "learner-added", "promoted", "admitted"]);
  } finally {
    await joiner?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a learner that never starts is removed after the timeout and the next gets in", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir();
  try {
    const ca = await caOf(etcd);
    const clock = { t: Date.now() };
    const live = new Set(["test", "w"]);
    const leader = leaderOn(etcd, ca, live, clock);
    await queue(etcd, dir, "dead", clock.t);
    assert.equal((await leader.step()).kind, "start");
    assert.equal((await current(etcd))!.id, "dead");
    assert.equal((await current(etcd))!.role, "voter");
    // The next one asks while the first is being admitted.
    clock.t += 10;
    const next0 = await queue(etcd, dir, "next", clock.t);
    assert.equal((await leader.step()).kind, "promote", "not caught up: etcd refuses");
    clock.t += 61_000;
    await etcd.store.put(families.admission, ["queue", "next"], { ...next0, seenAt: clock.t });
    const aborted = await leader.step();
    assert.ok(aborted.kind === "abort" && aborted.timedOut && aborted.memberId);
    assert.equal((await etcdMembership(etcd.store.client).list()).length, 1, "learner removed");
    // The queue moves on; the dead joiner's request was dropped with its admission.
    const next = await leader.step();
    assert.ok(next.kind === "start" && next.join.id === "next");
    const events = (await admissionLog(etcd.store)).map((e) => `${e.id} ${e.event}`);
    assert.ok(events.includes("dead timed-out"), events.join());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what a dead leader left behind is adopted or removed by the next one", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir();
  try {
    const ca = await caOf(etcd);
    const clock = { t: Date.now() };
    const membership = etcdMembership(etcd.store.client);
    const leader = leaderOn(etcd, ca, new Set(["test", "w"]), clock);
    // A learner no admission owns (the leader died before recording anything) is removed.
    const orphan = await membership.addLearner(`https://127.0.0.1:${freePort()}`);
    assert.deepEqual(await leader.step(), { kind: "remove-orphan", memberId: orphan.id, name: "" });
    assert.equal((await membership.list()).length, 1);
    // Recorded as adding, learner added, then the leader died: the next one adopts it.
    const j = await queue(etcd, dir, "a1", clock.t);
    const adding = addingOf(j, etcd, clock.t);
    await etcd.store.put(families.admission, CURRENT, adding);
    const added = await membership.addLearner(adding.peerUrl);
    assert.deepEqual(await leader.step(), { kind: "adopt-learner", memberId: added.id });
    const c = (await current(etcd))!;
    assert.equal(c.step, "learner");
    assert.equal(c.memberId, added.id);
    assert.match(c.initialCluster!, /a1=https:\/\/127\.0\.0\.1:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an admission undone by a voter being down keeps the joiner's place and approval", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir();
  try {
    const ca = await caOf(etcd);
    const clock = { t: Date.now() };
    const live = new Set(["test"]);
    const leader = leaderOn(etcd, ca, live, clock);
    const j = await queue(etcd, dir, "a1", clock.t);
    await etcd.store.put(families.admission, ["queue", "a1"], { ...j, trust: "approved" });
    await etcd.store.put(families.admission, CURRENT, addingOf(j, etcd, clock.t));
    // The one voter ("test") stops being live: the learner is not added, the admission undone.
    live.delete("test");
    const undone = await leader.step();
    assert.ok(undone.kind === "abort" && !undone.timedOut, JSON.stringify(undone));
    assert.equal(await current(etcd), undefined);
    const kept = await etcd.store.get<QueuedJoin>(families.admission, "queue", "a1");
    assert.equal(kept?.value.trust, "approved", "still queued, still approved");
    // Back to live: it is admitted from its place, without a person approving it again.
    live.add("test");
    const again = await leader.step();
    assert.ok(again.kind === "start" && again.join.id === "a1", JSON.stringify(again));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
