/**
 * The balancer under the real etcd client: one npm:etcd3 client made against the balancer's URL
 * keeps working while the balancer is repointed, with TLS end to end through it.
 */
import assert from "node:assert/strict";
import type { Etcd3 } from "etcd3";
import { startEtcd, type TestEtcd } from "../../test/helpers/etcd.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { EtcdBalancer } from "./balancer.ts";
import { connectEtcd } from "./client.ts";
import { EtcdSupervisor } from "./supervisor.ts";

/**
 * How long the client may take to come back. Measured here: ~0.1 s after a repoint, ~0.5 s
 * after its member died (grpc-js waits its 1 s reconnect backoff); the margin is for a loaded CI.
 */
const RECOVERY_MS = 15_000;

/** A get that gives up after `ms`, so a probe never hangs the poll. */
async function getWithin(client: Etcd3, key: string, ms = 2000): Promise<string | null> {
  return await client.get(key).options({ deadline: new Date(Date.now() + ms) }).string();
}

/** A second member started from `etcd`'s CA and certificate, on fresh ports. */
function member(etcd: TestEtcd, dir: string, name: string, initialCluster?: string) {
  return new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/${name}`,
    name,
    clientPort: freePort(),
    peerPort: freePort(),
    tls: etcd.tls,
    initialCluster,
  });
}

/** Adds a second voter to `etcd`'s one-member cluster: learner first, promoted once caught up. */
async function addVoter(etcd: TestEtcd, dir: string): Promise<EtcdSupervisor> {
  const draft = member(etcd, dir, "m2");
  const { member: added } = await etcd.store.client.cluster.memberAdd({
    peerURLs: [draft.peerUrl],
    isLearner: true,
  });
  const initial = `test=${etcd.supervisor.peerUrl},m2=${draft.peerUrl}`;
  const m2 = new EtcdSupervisor({ ...draft.options, initialCluster: initial });
  await m2.start();
  try {
    await waitFor("the learner to be promoted", async () => {
      await etcd.store.client.cluster.memberPromote({ ID: added!.ID });
      return true;
    });
  } catch (err) {
    await m2.stop();
    throw err;
  }
  return m2;
}

Deno.test("one etcd client through the balancer keeps working when its member is dropped for another voter", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir({ prefix: "fossora-balancer-" });
  let m2: EtcdSupervisor | undefined;
  const lb = new EtcdBalancer({ endpoints: [etcd.url], preferred: etcd.url });
  let client: Etcd3 | undefined;
  try {
    m2 = await addVoter(etcd, dir);
    lb.setEndpoints([etcd.url, m2.clientUrl]);
    await lb.start();
    client = connectEtcd([lb.url], etcd.tls);
    await client.put("balanced").value("one");
    assert.equal(await client.get("balanced").string(), "one");
    assert.ok(lb.relays().length > 0);
    assert.ok(lb.relays().every((u) => u === etcd.url), "the preferred member serves");

    const t0 = Date.now();
    lb.setEndpoints([m2.clientUrl]);
    assert.equal(lb.relays().includes(etcd.url), false, "its connections were closed");
    await waitFor("the same client to read through the other member", async () => {
      return (await getWithin(client!, "balanced")) === "one";
    }, RECOVERY_MS);
    const recoveredMs = Date.now() - t0;
    assert.ok(lb.relays().length > 0);
    assert.ok(lb.relays().every((u) => u === m2!.clientUrl), `${recoveredMs} ms`);
    await client.put("balanced").value("two");
    assert.equal(await etcd.store.client.get("balanced").string(), "two", "one cluster");
  } finally {
    client?.close();
    await lb.stop();
    await m2?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("one etcd client through the balancer recovers when its member dies and a fresh member takes over", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir({ prefix: "fossora-balancer-" });
  // A cluster of its own with the same CA: stands in for the voter that takes over.
  const other = member(etcd, dir, "other");
  const lb = new EtcdBalancer({ endpoints: [etcd.url] });
  let client: Etcd3 | undefined;
  try {
    await other.start();
    await lb.start();
    client = connectEtcd([lb.url], etcd.tls);
    await client.put("k").value("first");

    await etcd.supervisor.stop();
    // The client now sees its connection gone and every reconnect closed by the balancer.
    await assert.rejects(getWithin(client, "k"));
    const t0 = Date.now();
    lb.setEndpoints([other.clientUrl]);
    await waitFor("the same client to write to the new member", async () => {
      await client!.put("k").value("second").options({ deadline: new Date(Date.now() + 2000) });
      return true;
    }, RECOVERY_MS);
    const recoveredMs = Date.now() - t0;
    assert.equal(await getWithin(client, "k"), "second", `${recoveredMs} ms`);
    assert.ok(lb.relays().every((u) => u === other.clientUrl));
  } finally {
    client?.close();
    await lb.stop();
    await other.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
