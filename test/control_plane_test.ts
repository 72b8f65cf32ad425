/**
 * The control plane heals itself, on four hosts (network namespaces, each with its own dockerd
 * and agent): a dead voter's vote goes to the worker after the grace period, the dead node comes
 * back as a worker with its containers, a reinstalled node replaces its old record, a dead node is
 * forgotten with `fossora nodes rm`, and `fossora leave NAME` asked on another node hands a vote
 * over and ends the agent.
 * Long (about three minutes): run it alone with `deno test -A test/control_plane_test.ts`.
 */
import assert from "node:assert/strict";
import { type Host, Hosts } from "./helpers/hosts.ts";
import { deployWeb, readyVoters, startJoined } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait.ts";
import type { NodeRecord } from "../src/state/types.ts";

interface ReplicaView {
  node: string;
  state: string;
  ready: boolean;
  containerId?: string;
}

async function nodesOf(h: Host): Promise<NodeRecord[]> {
  return (await h.json<{ nodes: NodeRecord[] }>("/api/v1/nodes")).nodes;
}

/** name → "role/state", for the assertion messages. */
async function shape(h: Host): Promise<Record<string, string>> {
  return Object.fromEntries((await nodesOf(h)).map((n) => [n.name, `${n.role}/${n.state}`]));
}

Deno.test("control plane (long): a lost voter is replaced, returns as a worker with its containers; reinstall, nodes rm and leave", async (t) => {
  await using cluster = await Hosts.create(4, {
    startAgents: false,
    agentFlags: (h) => [`--label=box=${h.name}`],
  });
  const [n1, ...others] = cluster.hosts;
  // One after the other, so that the roles are known: node2 a worker, node3 a voter (and node2
  // promoted with it: three voters), node4 a worker.
  const join = await startJoined(cluster);

  await t.step("four nodes make three voters and a worker", async () => {
    await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 60_000);
    const s = await shape(n1);
    assert.equal(Object.values(s).filter((v) => v === "worker/ready").length, 1, JSON.stringify(s));
  });

  const leaderId = (await n1.json<{ leader: { id: string } | null }>("/api/v1/cluster")).leader?.id;
  const voters = await readyVoters(n1);
  const victim = others.find((h) => voters.includes(h.name) && h.nodeId !== leaderId)!;
  const survivor = cluster.hosts.find((h) => h !== victim && h.nodeId === leaderId) ?? n1;
  const service = `pinned-${crypto.randomUUID().slice(0, 6)}`;
  let containerId = "";

  await t.step(`a container runs on ${victim.name}, pinned there by a label`, async () => {
    await deployWeb(survivor, service, { labels: { box: victim.name } });
    const replica = await waitFor(`${service} running on ${victim.name}`, async () => {
      const res = await survivor.fetch(`/api/v1/services/${service}`);
      if (!res.ok) return void await res.body?.cancel();
      const { replicas } = (await res.json()) as { replicas: ReplicaView[] };
      return replicas.find((r) => r.state === "running" && r.containerId);
    }, 60_000);
    containerId = replica.containerId!;
  });

  await t.step(
    `${victim.name}, a voter, dies: after the grace period a worker votes instead`,
    async () => {
      const started = Date.now();
      await victim.kill();
      // Until it is replaced, status says what the next failure would do.
      const said = await waitFor("the cluster to say a voter is down", async () => {
        const { resilience } = await survivor.json<{ resilience: { summary: string } }>(
          "/api/v1/cluster",
        );
        return resilience.summary.startsWith("2 of 3 voters up") ? resilience.summary : undefined;
      }, 30_000);
      assert.match(said, /one more failure stops changes/);
      await waitFor("three ready voters without the dead one", async () => {
        const v = await readyVoters(survivor);
        return v.length === 3 && !v.includes(victim.name);
      }, 120_000);
      const s = await shape(survivor);
      assert.match(s[victim.name], /\/down$/, JSON.stringify(s));
      console.log(`  voter replaced ${((Date.now() - started) / 1000).toFixed(1)} s after it died`);
    },
  );

  await t.step(`${victim.name} comes back as a worker, with its container`, async () => {
    await victim.start();
    await victim.waitForLine(/removed while it was away; it rejoins as a worker/, 5_000);
    await waitFor(`${victim.name} ready as a worker`, async () => {
      return (await shape(survivor))[victim.name] === "worker/ready";
    }, 60_000);
    assert.deepEqual((await readyVoters(survivor)).length, 3);
    const ps = await victim.docker(
      "ps",
      "-q",
      "--no-trunc",
      "--filter",
      `label=fossora.service=${service}`,
    );
    assert.equal(
      ps.stdout.trim().startsWith(containerId),
      true,
      `still ${containerId}: ${ps.stdout}`,
    );
  });

  await t.step(
    `${victim.name} reinstalled (same name, empty disk) replaces its old record`,
    async () => {
      const oldId = victim.nodeId;
      await victim.wipe();
      await victim.start(join);
      assert.notEqual(victim.nodeId, oldId);
      await waitFor("one record of the name, the new one", async () => {
        const named = (await nodesOf(survivor)).filter((n) => n.name === victim.name);
        return named.length === 1 && named[0].id === victim.nodeId && named[0].state === "ready";
      }, 60_000);
    },
  );

  await t.step("nodes rm refuses a running node and forgets a dead one", async () => {
    const refused = await survivor.cli("nodes", "rm", victim.name);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is running.*fossora leave/);
    await victim.kill();
    await waitFor(`${victim.name} down`, async () => {
      return (await shape(survivor))[victim.name]?.endsWith("/down");
    }, 30_000);
    const removed = await survivor.cli("nodes", "rm", victim.name);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await shape(survivor))[victim.name], undefined);
  });

  await t.step(
    "a voter asked on another node to leave hands its vote over; its agent ends and forgets the cluster",
    async () => {
      const leaver = cluster.hosts.find((h) => h !== survivor && h !== victim && h.running)!;
      // Asked on the survivor, which forwards it to the leaver's TLS API.
      const res = await survivor.cli("leave", leaver.name);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /left the cluster/);
      const status = await leaver.ended;
      assert.equal(status.code, 0);
      assert.equal(
        await Deno.stat(`${leaver.dataDir}/membership.json`).then(() => true, () => false),
        false,
      );
      // Two nodes remain: one voter and one worker.
      await waitFor("one voter and one worker", async () => {
        const s = await shape(survivor);
        const states = Object.entries(s).filter(([n]) => n !== leaver.name && n !== victim.name)
          .map(([, v]) => v).sort();
        return JSON.stringify(states) === JSON.stringify(["voter/ready", "worker/ready"]);
      }, 60_000);
      assert.match((await shape(survivor))[leaver.name], /\/left$/);
    },
  );
});
