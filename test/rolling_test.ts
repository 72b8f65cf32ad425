/**
 * An update rolls a service's replicas one at a time, each new one ready before the next old one
 * stops: a real agent, a three-replica web service, and requests through the proxy every 20 ms
 * while its spec changes (none fails); then an update to an image that cannot start, which
 * stops the roll after its first replica, keeps the old ones serving, and says why; and the
 * same for an update whose health check fails.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

interface Detail {
  generation: number;
  problem: string | null;
  replicas: { replica: number; generation: number; ready: boolean; state: string }[];
}

Deno.test("an update rolls one replica at a time with no failed request, and a broken one stops with the old replicas serving", async (t) => {
  await using agent = await TestAgent.start();
  const name = `roll-${crypto.randomUUID().slice(0, 6)}`;
  const host = `${name}.${agent.domain}`;
  const post = async (spec: Record<string, unknown>) => {
    const res = await agent.fetch("/api/v1/services", {
      method: "POST",
      body: JSON.stringify(spec),
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 200, await res.text());
  };
  const detailOf = async (service: string) =>
    (await (await agent.fetch(`/api/v1/services/${service}`)).json()) as Detail;
  const deploy = (image: string, version: string) =>
    post({
      name,
      image,
      replicas: 3,
      env: { VERSION: version },
      ports: [{ container: 80, http: true }],
    });
  const detail = () => detailOf(name);

  await t.step("three replicas serve", async () => {
    await deploy("fossora-test/busybox:1", "1");
    await waitFor(
      "three ready replicas",
      async () => (await detail()).replicas.filter((r) => r.ready).length === 3,
      60_000,
    );
  });

  await t.step("a new generation rolls with every request answered", async () => {
    let stop = false;
    const failures: string[] = [];
    let requests = 0;
    // Which generations were ready together: a roll shows old and new side by side.
    const mixes = new Set<string>();
    const load = (async () => {
      while (!stop) {
        try {
          const r = await httpRequest(agent.ports.http, host);
          if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 80)}`);
        } catch (err) {
          failures.push(String(err));
        }
        requests++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await deploy("fossora-test/busybox:1", "2");
      await waitFor(
        "every replica at generation 2 and ready",
        async () => {
          const d = await detail();
          const ready = d.replicas.filter((r) => r.ready);
          mixes.add([...new Set(ready.map((r) => r.generation))].sort().join("+"));
          return ready.length === 3 && ready.every((r) => r.generation === 2);
        },
        90_000,
        100,
      );
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      stop = true;
      await load;
    }
    console.log(`  ${requests} requests during the roll, ${failures.length} failed`);
    assert.deepEqual(failures, []);
    assert.ok(mixes.has("1+2"), `old and new served side by side: ${[...mixes]}`);
  });

  await t.step(
    "an image that cannot start stops the roll; the old replicas keep serving",
    async () => {
      await deploy("fossora-test/no-such-image:1", "3");
      const d = await waitFor(
        "the roll to stop with a reason",
        async () => {
          const d = await detail();
          return d.problem?.includes("update to generation 3 is stopped") && d;
        },
        90_000,
        200,
      );
      console.log(`  problem: ${d.problem}`);
      // Give a wrong roll time to go further: it must not.
      await new Promise((r) => setTimeout(r, 3000));
      const after = await detail();
      const old = after.replicas.filter((r) => r.ready && r.generation === 2);
      assert.equal(
        old.length,
        2,
        `two old replicas still serve: ${JSON.stringify(after.replicas)}`,
      );
      assert.equal(after.replicas.filter((r) => r.generation === 3).length, 1);
      const r = await httpRequest(agent.ports.http, host);
      assert.equal(r.status, 200);
    },
  );

  await t.step(
    "a new generation whose health check fails stops the roll the same way, saying what it printed",
    async () => {
      const other = `${name}-hc`;
      const deployChecked = (healthcheck: Record<string, unknown>) =>
        post({
          name: other,
          image: "fossora-test/busybox:1",
          replicas: 2,
          ports: [{ container: 80, http: true }],
          healthcheck: { interval: "200ms", retries: 2, ...healthcheck },
        });
      const otherDetail = () => detailOf(other);
      await deployChecked({ test: ["CMD", "true"] });
      await waitFor(
        "two healthy replicas",
        async () => (await otherDetail()).replicas.filter((r) => r.ready).length === 2,
        60_000,
      );
      await deployChecked({ test: ["CMD-SHELL", "echo migrations pending; exit 1"] });
      const d = await waitFor(
        "the roll to stop with the check's output",
        async () => {
          const d = await otherDetail();
          return d.problem?.includes("update to generation 2 is stopped: replica 0 fails") && d;
        },
        60_000,
        200,
      );
      console.log(`  problem: ${d.problem}`);
      assert.match(d.problem!, /replica 0 fails its health check \(migrations pending\)/);
      await new Promise((r) => setTimeout(r, 2000));
      const after = await otherDetail();
      assert.equal(after.replicas.filter((r) => r.ready && r.generation === 1).length, 1);
      assert.equal(
        (await httpRequest(agent.ports.http, `${other}.${agent.domain}`)).status,
        200,
      );
    },
  );
});
