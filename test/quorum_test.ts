/**
 * Without quorum nothing can change, but everything keeps serving: three voters on three hosts
 * (network namespaces, each with its own dockerd and agent), two of them killed. The survivor's
 * proxy and DNS keep answering from the state they had, and a write through its API fails within
 * seconds with `quorum_lost`, naming the voters that are missing, instead of hanging or a 500.
 */
import assert from "node:assert/strict";
import { BUSYBOX_IMAGE, Hosts } from "./helpers/hosts.ts";
import { deployWeb, proxyGet, readyVoters, startJoined } from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait.ts";

const DOMAIN = "fossora.home.arpa";

Deno.test("quorum lost: proxy and DNS keep serving, and a write fails within seconds with quorum_lost naming who is missing", async (t) => {
  await using cluster = await Hosts.create(3, {
    startAgents: false,
    agentFlags: (h) => [`--label=box=${h.name}`],
  });
  const [n1, n2, n3] = cluster.hosts;
  await startJoined(cluster);
  const service = `stays-${crypto.randomUUID().slice(0, 6)}`;
  const host = `${service}.${DOMAIN}`;
  const viaProxy = () => proxyGet(n1, host);

  await t.step("three voters, and a service on the one that will survive", async () => {
    await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 90_000);
    await deployWeb(n1, service, { labels: { box: n1.name } });
    await waitFor(`${host} to answer through the proxy`, async () => {
      return (await viaProxy()).includes("hello from fossora-test");
    }, 60_000);
  });

  await n2.kill();
  await n3.kill();

  await t.step("a write fails within seconds with quorum_lost, saying who is missing", async () => {
    const started = Date.now();
    const res = await n1.fetch("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({ name: "another", image: BUSYBOX_IMAGE }),
      headers: { "content-type": "application/json" },
    });
    const tookMs = Date.now() - started;
    const body = await res.json() as { error: { code: string; message: string } };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.equal(body.error.code, "quorum_lost", body.error.message);
    assert.match(body.error.message, /changes need 2 of the 3 voters and 1 is missing/);
    assert.match(body.error.message, new RegExp(`${n2.name}, ${n3.name} do not answer`));
    assert.ok(tookMs < 10_000, `answered after ${tookMs} ms`);
    console.log(`  quorum_lost after ${tookMs} ms: ${body.error.message}`);
  });

  await t.step("reads still answer, saying they may be out of date", async () => {
    await waitFor("a read marked stale", async () => {
      const res = await n1.fetch("/api/v1/services");
      await res.body?.cancel();
      return res.ok && /may be out of date/.test(res.headers.get("fossora-stale") ?? "");
    }, 15_000);
  });

  await t.step("the proxy and DNS keep serving, DNS naming only the node still heard", async () => {
    assert.match(await viaProxy(), /hello from fossora-test/);
    // Without quorum no node record can be dropped; n1 stops naming the nodes whose heartbeats
    // it no longer hears.
    const answer = await waitFor("n1's DNS to name only itself", async () => {
      const dig = await n1.exec(["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", host, "A"]);
      const addresses = dig.stdout.trim().split("\n").filter(Boolean);
      return addresses.length === 1 ? addresses : undefined;
    }, 15_000);
    assert.deepEqual(answer, [n1.address]);
  });
});
