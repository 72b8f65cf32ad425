/**
 * The routing mesh for UDP: a service's published UDP port answers on every node of three
 * (network namespaces, each with its own dockerd and agent), whichever node runs the replica, and
 * again through the others once that node is killed. The replica is a real UDP echo server in a
 * container, reached through Docker's UDP port publishing and each agent's UDP forwarder.
 */
import assert from "node:assert/strict";
import { readyVoters, startJoined } from "./helpers/cluster.ts";
import { DENO_IMAGE, type Host, Hosts } from "./helpers/hosts.ts";
import { waitFor } from "./helpers/wait.ts";

const PORT = 5353;
const ECHO =
  `const c = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: ${PORT} });
for (;;) {
  const [data, from] = await c.receive();
  const text = "echo " + Deno.hostname() + " " + new TextDecoder().decode(data);
  await c.send(new TextEncoder().encode(text), from);
}`;

/** Sends `text` to `host`'s published port; the reply, or undefined after `ms`. */
async function ask(host: Host, text: string, ms = 500): Promise<string | undefined> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.send(new TextEncoder().encode(text), {
      transport: "udp",
      hostname: host.address,
      port: PORT,
    });
    const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
    return await Promise.race([
      conn.receive().then(([d]) => new TextDecoder().decode(d)),
      late,
    ]);
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

Deno.test("a published UDP port answers through every node, and through the others when its node dies", async (t) => {
  await using cluster = await Hosts.create(3, { startAgents: false, images: [DENO_IMAGE] });
  const [n1] = cluster.hosts;
  await startJoined(cluster);
  const name = `udp-${crypto.randomUUID().slice(0, 6)}`;
  /** The host of the ready replica, asking `via` (a node that is up). */
  const replicaNode = async (via: Host = n1) => {
    const { replicas } = await via.json<{ replicas: { node: string; ready: boolean }[] }>(
      `/api/v1/services/${name}`,
    );
    const node = replicas.find((r) => r.ready)?.node;
    return cluster.hosts.find((h) => h.name === node || h.nodeId === node);
  };

  let victim: Host | undefined;
  let first = "";
  await t.step("every node forwards the port to the one replica", async () => {
    await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 90_000);
    await n1.json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({
        name,
        image: DENO_IMAGE,
        command: ["eval", "--unstable-net", ECHO],
        ports: [{ container: PORT, published: PORT, protocol: "udp" }],
      }),
      headers: { "content-type": "application/json" },
    });
    victim = await waitFor("the replica to be ready", () => replicaNode(), 60_000);
    for (const h of cluster.hosts) {
      const reply = await waitFor(
        `an answer through ${h.name}`,
        () => ask(h, `via ${h.name}`),
        30_000,
      );
      assert.match(reply, new RegExp(`^echo \\S+ via ${h.name}$`));
      first = reply.split(" ")[1];
    }
  });

  await t.step(
    "its node dies: the port answers through the other nodes from a new replica",
    async () => {
      // A power cut: the agent and etcd killed, and the container with them.
      const ids = (await victim!.docker("ps", "-q", "--filter", `label=fossora.service=${name}`))
        .stdout.trim().split("\n").filter(Boolean);
      const died = Date.now();
      await victim!.kill();
      if (ids.length) await victim!.docker("kill", ...ids);
      const others = cluster.hosts.filter((h) => h !== victim);
      for (const h of others) {
        await waitFor(
          `an answer from the new replica through ${h.name}`,
          async () => {
            const reply = await ask(h, "again");
            return reply && reply.split(" ")[1] !== first ? reply : undefined;
          },
          60_000,
          100,
        );
      }
      console.log(
        `  answering again ${((Date.now() - died) / 1000).toFixed(1)} s after its node died`,
      );
      const moved = await waitFor("the replica elsewhere", async () => {
        // Not through the dead node, which node1 may well be.
        const node = await replicaNode(others[0]);
        return node && node !== victim ? node : undefined;
      }, 30_000);
      assert.notEqual(moved, victim);
    },
  );
});
