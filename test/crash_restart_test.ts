/**
 * A node killed with SIGKILL, restarted with a backlog of container work: the services that were
 * running answer through the proxy and DNS from the state snapshot on disk within a second of
 * the agent starting, long before etcd is back and the container reconciler has caught up.
 */
import assert from "node:assert/strict";
import { docker, TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const IMAGE = "fossora-test/busybox:1";
const PENDING = 50;

interface ServiceView {
  replicas: { replica: number; state: string; ready: boolean; containerId?: string }[];
}

/**
 * The A records of `name` from the agent's DNS server; none when it does not answer within
 * `timeoutMs`. In-process rather than dig: spawning a process every few ms while polling would
 * slow down the very start-up being measured.
 */
async function resolveA(agent: TestAgent, name: string, timeoutMs = 1000): Promise<string[]> {
  try {
    return await Deno.resolveDns(name, "A", {
      nameServer: { ipAddr: "127.0.0.1", port: agent.ports.dns },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    return [];
  }
}

/** Containers of one service, by state filter (`docker ps --filter status=...`). */
async function containersOf(service: string, status?: string): Promise<number> {
  const filters = ["--filter", `label=fossora.service=${service}`];
  if (status) filters.push("--filter", `status=${status}`);
  return (await docker("ps", "-aq", ...filters)).split("\n").filter(Boolean).length;
}

/** Whether the agent says it is ready; false while it is starting or not listening yet. */
async function healthy(agent: TestAgent): Promise<boolean> {
  try {
    const res = await fetch(`${agent.api}/api/v1/health`);
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

Deno.test(
  `after a kill -9 the running service answers through the proxy and DNS within a second of restart, with ${PENDING} container starts pending`,
  async (t) => {
    const id = crypto.randomUUID().slice(0, 6);
    const web = `web-${id}`;
    const host = `${web}.fossora.test`;
    const bulk = `bulk-${id}`;
    // The backlog: replicas assigned to this node whose image is not there yet (its registry
    // refuses at once), so none has a container at the kill; the image is tagged before the
    // restart, and the restarted agent has all of them to create and start.
    const bulkImage = `127.0.0.1:1/fossora-test/pending-${id}:1`;
    await using agent = await TestAgent.start();
    try {
      let webContainer = "";
      let killedAt = 0;

      await t.step(
        "a running service and a backlog of replicas, saved to the snapshot",
        async () => {
          const res = await agent.fetch("/api/v1/services", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify([
              { name: web, image: IMAGE, ports: [{ container: 80, http: true }] },
              { name: bulk, image: bulkImage, replicas: PENDING },
            ]),
          });
          assert.equal(res.status, 200, await res.text());
          await waitFor("the service to answer through the proxy", async () => {
            return (await httpRequest(agent.ports.http, host)).status === 200;
          }, 30_000);
          await waitFor(`${PENDING} replicas of ${bulk} handed to the runtime`, async () => {
            const svc = await agent.json<ServiceView>(`/api/v1/services/${bulk}`);
            return svc.replicas.length === PENDING;
          }, 30_000);
          const svc = await agent.json<ServiceView>(`/api/v1/services/${web}`);
          webContainer = svc.replicas[0].containerId ?? "";
          assert.match(webContainer, /^[0-9a-f]{12,}$/);
          await waitFor("the ready replica in the snapshot", async () => {
            const text = await Deno.readTextFile(`${agent.dataDir}/state-snapshot.json`)
              .catch(() => "");
            return text.includes(webContainer) && text.includes(`"ready":true`);
          }, 10_000);
        },
      );

      await t.step("kill -9 leaves the containers running and the backlog pending", async () => {
        const status = await agent.stop("SIGKILL");
        killedAt = Date.now();
        assert.equal(status?.signal, "SIGKILL");
        await docker("tag", IMAGE, bulkImage);
        assert.equal(await containersOf(web, "running"), 1);
        assert.equal(await containersOf(bulk), 0, `all ${PENDING} starts are pending`);
      });

      await t.step(
        "the restarted agent answers for the service within a second, before the backlog is done",
        async () => {
          const spawned = performance.now();
          await agent.spawn();
          const since = () => Math.round(performance.now() - spawned);
          const [proxyMs, dnsMs] = await Promise.all([
            waitFor(
              "an answer through the proxy",
              async () => {
                const res = await httpRequest(agent.ports.http, host);
                return res.status === 200 && res.body.trim() === "hello from fossora-test" &&
                  since();
              },
              20_000,
              10,
            ),
            waitFor(
              "a DNS answer",
              async () => (await resolveA(agent, host, 50)).join() === "127.0.0.1" && since(),
              20_000,
              10,
            ),
          ]);
          // Read at once: the reconciler's first pass is what is still going on.
          const [ready, started] = [await healthy(agent), await containersOf(bulk, "running")];
          console.log(
            `first answer after restart: proxy ${proxyMs} ms, DNS ${dnsMs} ms; ` +
              `${started}/${PENDING} pending containers running by then`,
          );
          assert.ok(proxyMs <= 1000, `the proxy answered ${proxyMs} ms after the agent started`);
          assert.ok(dnsMs <= 1000, `DNS answered ${dnsMs} ms after the agent started`);
          assert.equal(ready, false, "the agent says ready before its first pass ended");
          assert.ok(started < PENDING, `all ${PENDING} containers ran before the first answer`);
          assert.equal(await containersOf(web, "running"), 1);
        },
      );

      await t.step("the service keeps answering once the view moves to etcd's state", async () => {
        // Only etcd has this run's node record; the snapshot has the one from before the kill.
        await waitFor(
          "the view to follow etcd",
          async () => {
            const { nodes } = await agent.json<{ nodes: { startedAt: string }[] }>("/api/v1/nodes");
            return nodes.length === 1 && Date.parse(nodes[0].startedAt) >= killedAt;
          },
          30_000,
          20,
        );
        const res = await httpRequest(agent.ports.http, host);
        assert.equal(res.status, 200);
        assert.deepEqual(await resolveA(agent, host), ["127.0.0.1"]);
        const svc = await agent.json<ServiceView>(`/api/v1/services/${web}`);
        assert.equal(svc.replicas[0].containerId, webContainer, "the same container serves");
      });

      await t.step("a stop during start-up ends the agent cleanly", async () => {
        const status = await agent.stop("SIGTERM");
        assert.equal(status?.code, 0, agent.output.slice(-20).join("\n"));
      });
    } finally {
      await docker("rmi", bulkImage);
    }
  },
);
