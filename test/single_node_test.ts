/**
 * One node, end to end, on real etcd and the real Docker engine: deploy a service from a local
 * image, reach it through the proxy and DNS, lose its container, the agent and etcd, and see it
 * all come back.
 */
import assert from "node:assert/strict";
import { docker, TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const IMAGE = "fossora-test/busybox:1";

interface ReplicaView {
  replica: number;
  containerId?: string;
  state: string;
  ready: boolean;
  message?: string;
}

async function replicas(agent: TestAgent, name: string): Promise<ReplicaView[]> {
  const res = await agent.fetch(`/api/v1/services/${name}`);
  if (!res.ok) {
    await res.body?.cancel();
    return [];
  }
  return ((await res.json()) as { replicas: ReplicaView[] }).replicas;
}

async function readyReplica(agent: TestAgent, name: string): Promise<ReplicaView> {
  return await waitFor(`a ready replica of ${name}`, async () => {
    const rs = await replicas(agent, name);
    return rs.find((r) => r.ready && r.state === "running");
  }, 30_000);
}

function viaProxy(agent: TestAgent, host: string, path = "/") {
  return httpRequest(agent.ports.http, host, path);
}

async function dig(agent: TestAgent, name: string, ...flags: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [
      `@127.0.0.1`,
      "-p",
      String(agent.ports.dns),
      name,
      "A",
      "+short",
      "+time=2",
      "+tries=1",
      ...flags,
    ],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

function webSpec(name: string): string {
  return JSON.stringify({ name, image: IMAGE, ports: [{ container: 80, http: true }] });
}

Deno.test("a service deployed on one node survives its container, the agent and etcd dying", async (t) => {
  await using agent = await TestAgent.start();
  const name = `web-${crypto.randomUUID().slice(0, 6)}`;
  const host = `${name}.${agent.domain}`;
  let containerId = "";

  await t.step("deploy creates a running container reachable through the proxy", async () => {
    const body = await agent.json<{ services: { name: string; generation: number }[] }>(
      "/api/v1/services",
      { method: "POST", body: webSpec(name), headers: { "content-type": "application/json" } },
    );
    assert.equal(JSON.stringify(body).includes(name), true);
    containerId = (await readyReplica(agent, name)).containerId ?? "";
    assert.match(containerId, /^[0-9a-f]{12,}$/);
    const res = await viaProxy(agent, host);
    assert.equal(res.status, 200);
    assert.equal(res.body.trim(), "hello from fossora-test");
  });

  await t.step(
    "DNS answers the service name and the node name with the node's address",
    async () => {
      assert.equal(await dig(agent, host), "127.0.0.1");
      assert.equal(await dig(agent, host, "+tcp"), "127.0.0.1");
      assert.equal(await dig(agent, `test-node.node.${agent.domain}`), "127.0.0.1");
    },
  );

  await t.step("a killed container comes back and serves again", async () => {
    await docker("kill", containerId);
    await waitFor("the killed container to serve again", async () => {
      const res = await viaProxy(agent, host);
      const rs = await replicas(agent, name);
      return res.status === 200 && rs[0]?.state === "running" && rs[0].ready;
    }, 30_000);
    containerId = (await readyReplica(agent, name)).containerId ?? "";
  });

  await t.step("an agent restart adopts the same container without restarting it", async () => {
    const startedAt = await docker("inspect", "-f", "{{.State.StartedAt}}", containerId);
    const status = await agent.stop("SIGTERM");
    assert.equal(status?.code, 0);
    assert.equal((await viaProxy(agent, host).catch(() => undefined)) === undefined, true);
    await agent.restart();
    const r = await readyReplica(agent, name);
    assert.equal(r.containerId, containerId);
    assert.equal(await docker("inspect", "-f", "{{.State.StartedAt}}", containerId), startedAt);
  });

  await t.step("a killed etcd child is restarted and the node keeps serving", async () => {
    const pid = Number(await Deno.readTextFile(`${agent.dataDir}/etcd.pid`));
    Deno.kill(pid, "SIGKILL");
    // The data plane answers from memory while etcd is gone.
    const during = await viaProxy(agent, host);
    assert.equal(during.status, 200);
    await waitFor("a new etcd", async () => {
      const now = Number(await Deno.readTextFile(`${agent.dataDir}/etcd.pid`));
      return now !== pid && (await agent.fetch("/api/v1/health")).ok;
    }, 30_000);
    const list = await agent.json<unknown>("/api/v1/services");
    assert.equal(JSON.stringify(list).includes(name), true);
  });

  await t.step("rm removes the service and its container", async () => {
    const res = await agent.fetch(`/api/v1/services/${name}`, { method: "DELETE" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await waitFor(
      "the container to be removed",
      async () => (await docker("ps", "-aq", "--filter", `id=${containerId}`)) === "",
    );
    const gone = await viaProxy(agent, host);
    assert.equal(gone.status, 404);
  });

  await t.step("SIGTERM stops the agent and leaves no etcd behind", async () => {
    const pid = Number(await Deno.readTextFile(`${agent.dataDir}/etcd.pid`));
    const status = await agent.stop("SIGTERM");
    assert.equal(status?.code, 0);
    const alive = await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
    assert.equal(alive, false, "etcd is still running after the agent stopped");
  });
});
