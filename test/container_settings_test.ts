/**
 * A service file's Docker settings end to end on one node (real etcd, real Docker): deployed
 * through the API, they reach the container; the proxy reaches a host-network service at the
 * node's own address; changing a setting rolls the replica; a file with bad settings is refused
 * with every problem by path and changes nothing.
 */
import assert from "node:assert/strict";
import { docker, TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const IMAGE = "fossora-test/busybox:1";

interface ReplicaView {
  replica: number;
  generation: number;
  containerId?: string;
  state: string;
  ready: boolean;
}

async function replicas(agent: TestAgent, name: string): Promise<ReplicaView[]> {
  const res = await agent.fetch(`/api/v1/services/${name}`);
  if (!res.ok) {
    await res.body?.cancel();
    return [];
  }
  return ((await res.json()) as { replicas: ReplicaView[] }).replicas;
}

function deploy(agent: TestAgent, spec: unknown): Promise<Response> {
  return agent.fetch("/api/v1/services", {
    method: "POST",
    body: JSON.stringify(spec),
    headers: { "content-type": "application/json" },
  });
}

/** A TCP port nothing listens on now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("a service's container settings reach Docker through the API, host networking is served by the proxy, and a changed setting rolls the replica", async (t) => {
  await using agent = await TestAgent.start();
  const dir = await Deno.makeTempDir({ prefix: "fossora-binds-" });
  try {
    // The container runs as another user, which must be able to enter the directory.
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/index.html`, "served from the node's disk\n");
    const name = `host-${crypto.randomUUID().slice(0, 6)}`;
    const port = freePort();
    const spec = (user: string) => ({
      name,
      image: IMAGE,
      command: ["/bin/httpd", "-f", "-p", String(port), "-h", "/www"],
      ports: [{ container: port, http: true }],
      hostNetwork: true,
      binds: [{ source: dir, path: "/www", readOnly: true }],
      container: {
        user,
        readOnly: true,
        tmpfs: [{ path: "/scratch", size: "4m" }],
        stopGracePeriod: "2s",
        labels: { "com.example.role": "web" },
      },
    });

    let first: ReplicaView | undefined;
    await t.step("deployed, it runs with its settings and answers through the proxy", async () => {
      const res = await deploy(agent, spec("1234:1234"));
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();
      first = await waitFor("a ready replica", async () => {
        return (await replicas(agent, name)).find((r) => r.ready && r.state === "running");
      }, 30_000);
      // Its port is the node's own, and the proxy dials it there: nothing is published.
      const via = await httpRequest(agent.ports.http, `${name}.${agent.domain}`, "/");
      assert.equal(via.status, 200);
      assert.equal(via.body.trim(), "served from the node's disk");
      const id = first.containerId!;
      assert.equal(await docker("exec", id, "id", "-u"), "1234");
      assert.match(
        await docker("exec", id, "cat", "/proc/mounts"),
        /^tmpfs \/scratch tmpfs \S*size=4096k/m,
      );
      const info = JSON.parse(await docker("inspect", id))[0];
      assert.equal(info.HostConfig.NetworkMode, "host");
      assert.equal(info.HostConfig.ReadonlyRootfs, true);
      assert.equal(info.Config.StopTimeout, 2);
      assert.equal(info.Config.Labels["com.example.role"], "web");
      assert.equal(info.Config.Labels["fossora.service"], name);
    });

    await t.step("a changed setting makes a new generation whose container has it", async () => {
      const res = await deploy(agent, spec("4321:4321"));
      assert.equal(res.status, 200);
      const body = await res.json() as { services: { generation: number }[] };
      assert.equal(body.services[0].generation, 2);
      const next = await waitFor("generation 2 ready", async () => {
        return (await replicas(agent, name)).find((r) =>
          r.ready && r.generation === 2 && r.containerId !== first?.containerId
        );
      }, 30_000);
      assert.equal(await docker("exec", next.containerId!, "id", "-u"), "4321");
    });

    await t.step(
      "a file with bad settings is refused with each problem by path, and nothing changes",
      async () => {
        const res = await deploy(agent, {
          ...spec("1234"),
          binds: [{ source: "srv/www", path: "/www" }],
          devices: [{ host: "/dev/null", permissions: "rwx" }],
          container: {
            capAdd: ["NET_ADMN"],
            sysctls: { "net.core.somaxconn": 1 },
            limits: { pids: 0 },
          },
        });
        assert.equal(res.status, 400);
        const { error } = await res.json() as {
          error: { code: string; details: { path: string; message: string }[] };
        };
        assert.equal(error.code, "invalid_spec");
        assert.deepEqual(error.details.map((d) => d.path), [
          "binds[0].source",
          "devices[0].permissions",
          "container.capAdd[0]",
          'container.sysctls["net.core.somaxconn"]',
          "container.limits.pids",
        ]);
        assert.match(error.details[3].message, /hostNetwork: true/);
        const now = await replicas(agent, name);
        assert.deepEqual(now.map((r) => r.generation), [2]);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
