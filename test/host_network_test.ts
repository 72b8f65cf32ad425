/**
 * Host networking on real agents and dockerds: two hosts. A host-network service asking for
 * three replicas runs one a node (the third waits, saying why), is reached through any node's
 * proxy and published port at its node's address and container port, and a second
 * host-network service wanting the same port is placed on no node, each node saying why. A
 * host-network port that is fossora's own is refused at deploy.
 */
import assert from "node:assert/strict";
import { BUSYBOX_IMAGE, Hosts } from "./helpers/hosts.ts";
import { startJoined } from "./helpers/cluster.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const DOMAIN = "fossora.home.arpa";
const PORT = 18080;
const PUBLISHED = 18090;

interface Detail {
  problem: string | null;
  replicas: { node: string; ready: boolean; containerId: string | null }[];
  nodes: { node: string; eligible: boolean; reason: string | null }[];
}

Deno.test("a host-network service runs one replica a node, is reached at its node's address, and keeps its port from another", async (t) => {
  await using cluster = await Hosts.create(2, { startAgents: false });
  const [n1, n2] = cluster.hosts;
  await startJoined(cluster);
  const detail = (name: string) => n1.json<Detail>(`/api/v1/services/${name}`);
  const web = (name: string, replicas: number, published?: number) => ({
    name,
    image: BUSYBOX_IMAGE,
    replicas,
    hostNetwork: true,
    command: ["httpd", "-f", "-p", String(PORT), "-h", "/www"],
    ports: [{ container: PORT, http: true, ...(published ? { published } : {}) }],
  });
  const deploy = (body: unknown) =>
    n1.fetch("/api/v1/services", {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });

  await t.step("three replicas wanted: one a node, the third unplaced with why", async () => {
    const t0 = Date.now();
    const res = await deploy(web("web", 3, PUBLISHED));
    assert.equal(res.status, 200, await res.text());
    const d = await waitFor("a ready replica of web on each node", async () => {
      const d = await detail("web");
      const ready = d.replicas.filter((r) => r.ready).map((r) => r.node).sort();
      return ready.join() === "node1,node2" && d.problem ? d : false;
    }, 60_000);
    console.log(`two host-network replicas ready in ${Date.now() - t0} ms`);
    assert.equal(d.replicas.length, 2);
    assert.match(
      d.problem!,
      /host networking runs one replica a node, where port 18080 must be free/,
    );
    const id = d.replicas.find((r) => r.node === "node1")!.containerId!;
    const mode = await n1.docker("inspect", "--format", "{{.HostConfig.NetworkMode}}", id);
    assert.equal(mode.stdout.trim(), "host");
  });

  await t.step(
    "reached through each node's proxy, its published port, and the node's address",
    async () => {
      for (const via of [n1, n2]) {
        const r = await httpRequest(80, `web.${DOMAIN}`, "/", "GET", via.address);
        assert.equal(r.status, 200);
        assert.equal(r.body.trim(), "hello from fossora-test");
        const mesh = await fetch(`http://${via.address}:${PUBLISHED}/`);
        assert.equal((await mesh.text()).trim(), "hello from fossora-test");
        // In the node's network: the container's port is the node's.
        const direct = await fetch(`http://${via.address}:${PORT}/`);
        assert.equal((await direct.text()).trim(), "hello from fossora-test");
      }
    },
  );

  await t.step(
    "a second host-network service on the same port is placed nowhere, saying why",
    async () => {
      const res = await deploy(web("other", 1));
      assert.equal(res.status, 200, await res.text());
      const d = await waitFor("other to be refused a node", async () => {
        const d = await detail("other");
        return d.problem ? d : false;
      }, 20_000);
      assert.deepEqual(d.replicas, []);
      assert.deepEqual(d.nodes.map((n) => n.reason), [
        `node1's port ${PORT} is taken by service web (host networking)`,
        `node2's port ${PORT} is taken by service web (host networking)`,
      ]);
      assert.match(d.problem!, /host networking runs one replica a node/);
    },
  );

  await t.step("a host-network port that is fossora's own is refused at deploy", async () => {
    const res = await deploy({ ...web("proxyport", 1), ports: [{ container: 80, http: true }] });
    const body = await res.json() as { error: { code: string; details: { message: string }[] } };
    assert.equal(res.status, 409);
    assert.equal(body.error.code, "port_conflict");
    assert.match(body.error.details[0].message, /port 80 is fossora's proxy port on every node/);
    assert.match(body.error.details[0].message, /--http-port/);
  });
});
