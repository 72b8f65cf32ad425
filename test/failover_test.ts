/**
 * A service survives its node's death: three hosts (network namespaces, each with its own dockerd
 * and agent), a one-replica service, and the node running it killed (agent and etcd with
 * SIGKILL). That node is made etcd's leader first, the hardest to lose: a new etcd leader extends
 * every lease by its whole time to live, so its lease alone would take seconds more to expire.
 * Its container keeps running, as when an agent crashes or a node's link is cut. The other nodes
 * stop hearing its heartbeats and revoke its leases, the replica is placed on a live node and the
 * service answers again through a surviving node's proxy; the test prints how long that took
 * (issue 8's goal is 5 s at the median, measured by the bench with a full power cut, not asserted
 * here). When the node comes back, it stops its old copy rather than run the service twice.
 */
import assert from "node:assert/strict";
import { type Host, Hosts } from "./helpers/hosts.ts";
import {
  deployWeb,
  moveEtcdLeader,
  proxyGet,
  readyVoters,
  startJoined,
} from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait.ts";

const DOMAIN = "fossora.home.arpa";

interface ReplicaView {
  node: string;
  state: string;
  ready: boolean;
}

Deno.test("failover: a one-replica service answers again through another node's proxy after its node is killed", async (t) => {
  await using cluster = await Hosts.create(3, { startAgents: false });
  const [n1] = cluster.hosts;
  await startJoined(cluster);
  const service = `moves-${crypto.randomUUID().slice(0, 6)}`;
  const host = `${service}.${DOMAIN}`;
  const answers = async (via: Host) =>
    (await proxyGet(via, host, 1)).includes("hello from fossora-test");
  const replicaNode = async (via: Host) => {
    const res = await via.fetch(`/api/v1/services/${service}`);
    if (!res.ok) return void await res.body?.cancel();
    const { replicas } = (await res.json()) as { replicas: ReplicaView[] };
    return replicas.find((r) => r.ready)?.node;
  };

  let victim: Host | undefined;
  await t.step("three voters and the service answering, its node etcd's leader", async () => {
    // Three voters, so that any one may die and the rest keep quorum.
    await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 90_000);
    await deployWeb(n1, service);
    const node = await waitFor(`${service} ready`, () => replicaNode(n1), 60_000);
    victim = cluster.hosts.find((h) => h.nodeId === node || h.name === node);
    assert.ok(victim, `the replica's node ${node} is one of ours`);
    await moveEtcdLeader(cluster.hosts, victim);
    const { leader } = await n1.json<{ leader: { name: string } | null }>("/api/v1/cluster");
    console.log(`  ${victim.name} runs it and leads etcd; ${leader?.name} is the scheduler`);
  });

  const observer = cluster.hosts.find((h) => h !== victim)!;
  const running = async (h: Host) =>
    (await h.docker("ps", "-q", "--filter", `label=fossora.service=${service}`)).stdout.trim()
      .split("\n").filter(Boolean);
  await t.step(
    `${victim!.name}'s agent and etcd die; ${observer.name}'s proxy serves the service again`,
    async () => {
      assert.ok(await answers(observer), "it answers before");
      const died = Date.now();
      await victim!.kill();
      await waitFor(
        "the service to answer again",
        async () => {
          const node = await replicaNode(observer);
          return node !== undefined && node !== victim!.nodeId && node !== victim!.name &&
            await answers(observer);
        },
        40_000,
        100,
      ).catch(async (err) => {
        const svc = await (await observer.fetch(`/api/v1/services/${service}`)).text();
        const nodes = await (await observer.fetch("/api/v1/nodes")).text();
        throw new Error(
          `${err.message}\nservice: ${svc}\nnodes: ${nodes}\nvictim ${victim!.name} ${
            victim!.nodeId
          }`,
        );
      });
      console.log(
        `  answering again ${((Date.now() - died) / 1000).toFixed(1)} s after its node died`,
      );
      assert.equal((await running(victim!)).length, 1, "the old copy ran on, unrouted");
      const revoked = cluster.hosts.filter((h) => h !== victim).flatMap((h) => h.output)
        .filter((l) => l.includes("node sends no heartbeats") && l.includes(victim!.name));
      assert.ok(revoked.length > 0, "a surviving node revoked its leases, not waiting for them");
    },
  );

  await t.step(`${victim!.name} comes back and stops its old copy: one copy runs`, async () => {
    await victim!.start();
    await waitFor(
      `${victim!.name} to stop its old copy`,
      async () => (await running(victim!)).length === 0,
      30_000,
      200,
    );
    const copies = await Promise.all(cluster.hosts.map(running));
    assert.equal(copies.flat().length, 1, `copies per host: ${JSON.stringify(copies)}`);
    const res = await victim!.json<{ replicas: ReplicaView[] }>(`/api/v1/services/${service}`);
    assert.deepEqual(
      res.replicas.map((r) => r.node === victim!.name || r.node === victim!.nodeId),
      [false],
    );
    assert.ok(await answers(victim!), "the service answers through the node that came back");
  });
});
