/**
 * Draining a node moves its replicas away with no failed request: three hosts (network
 * namespaces, each with its own dockerd and agent), a three-replica web service, and requests
 * through a node's proxy every 20 ms while `fossora nodes drain` moves the drained node's replica
 * (the new copy ready before the old one stops). The drain and the move are events on the
 * service; undrain lets the node take replicas again.
 */
import assert from "node:assert/strict";
import { type Host, Hosts } from "./helpers/hosts.ts";
import { readyVoters, startJoined } from "./helpers/cluster.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";
import { BUSYBOX_IMAGE } from "./helpers/hosts.ts";

const DOMAIN = "fossora.home.arpa";

/** Requests through `via`'s proxy every 20 ms while `during` runs, and a second after. */
async function underLoad(
  via: Host,
  host: string,
  during: () => Promise<void>,
): Promise<{ failures: string[]; requests: number }> {
  let stop = false;
  const failures: string[] = [];
  let requests = 0;
  const load = (async () => {
    while (!stop) {
      try {
        const r = await httpRequest(80, host, "/", "GET", via.address);
        if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 100)}`);
      } catch (err) {
        failures.push(String(err));
      }
      requests++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await during();
    // A little longer, so a copy stopped late would show as failures too.
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    stop = true;
    await load;
  }
  return { failures, requests };
}

interface ServiceView {
  replicas: { node: string; ready: boolean; replica: number }[];
  events: { kind: string; message: string }[];
}

Deno.test("drain moves a node's replicas away with no failed request, and undrain lets it take them again", async (t) => {
  await using cluster = await Hosts.create(3, { startAgents: false });
  const [n1] = cluster.hosts;
  await startJoined(cluster);
  const service = `drained-${crypto.randomUUID().slice(0, 6)}`;
  const show = (via: Host) => via.json<ServiceView>(`/api/v1/services/${service}`);
  const runsOn = async (h: Host) =>
    (await show(n1)).replicas.filter((r) => r.node === h.name && r.ready).length;

  let drained: Host | undefined;
  await t.step("three voters and three replicas, one a node", async () => {
    await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 90_000);
    await n1.json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({
        name: service,
        image: BUSYBOX_IMAGE,
        replicas: 3,
        ports: [{ container: 80, http: true }],
      }),
      headers: { "content-type": "application/json" },
    });
    await waitFor(`three ready replicas of ${service}, one a node`, async () => {
      const ready = (await show(n1)).replicas.filter((r) => r.ready).map((r) => r.node);
      return new Set(ready).size === 3;
    }, 60_000);
    // The founder: it holds the scheduler role and leads etcd, the hardest node to leave.
    drained = n1;
    assert.ok(drained);
  });

  const observer = cluster.hosts.find((h) => h !== drained)!;
  await t.step(
    `drain ${drained!.name}: every request through ${observer.name} answers`,
    async () => {
      const { failures, requests } = await underLoad(observer, `${service}.${DOMAIN}`, async () => {
        const r = await observer.cli("nodes", "drain", drained!.name);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`${drained!.name} runs no replica now`));
        assert.equal(await runsOn(drained!), 0);
        const after = (await show(n1)).replicas.filter((x) => x.ready).map((x) => x.node);
        assert.equal(after.length, 3, `three replicas serve: ${after}`);
        assert.ok(!after.includes(drained!.name));
      });
      assert.ok(requests > 50, `only ${requests} requests`);
      assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
      console.log(`  ${requests} requests during the drain, none failed`);
      const copies =
        (await drained!.docker("ps", "-q", "--filter", `label=fossora.service=${service}`))
          .stdout.trim();
      assert.equal(copies, "", "the drained node runs no copy");
    },
  );

  await t.step(`logs followed through ${drained!.name}, which runs no replica`, async () => {
    const ticker = `${service}-log`;
    await n1.json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({
        name: ticker,
        image: BUSYBOX_IMAGE,
        command: ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done"],
      }),
      headers: { "content-type": "application/json" },
    });
    await waitFor(
      `${ticker} running`,
      async () =>
        (await n1.json<ServiceView>(`/api/v1/services/${ticker}`)).replicas.some((r) => r.ready),
      60_000,
    );
    const follow = drained!.cliSpawn("logs", ticker, "-f");
    const reader = follow.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      await waitFor(
        "ten ticks, the last ones new",
        async () => {
          const { value, done } = await reader.read();
          if (done) throw new Error(`logs -f ended: ${text}`);
          text += value;
          return (text.match(/tick-\d+/g) ?? []).length >= 10;
        },
        30_000,
        0,
      );
    } finally {
      follow.kill();
      await reader.cancel().catch(() => {});
      await new Response(follow.stderr).text().catch(() => "");
      await follow.status;
    }
    const ticks = (text.match(/tick-(\d+)/g) ?? []).map((t) => Number(t.slice(5)));
    assert.deepEqual(ticks, [...ticks].sort((a, b) => a - b), "in order");
    assert.equal(await runsOn(drained!), 0, `${drained!.name} still runs no replica`);
    const one = await drained!.cli("logs", ticker, "--tail", "3");
    assert.equal(one.code, 0, one.stderr);
    assert.equal((one.stdout.match(/tick-\d+/g) ?? []).length, 3);
    await n1.fetch(`/api/v1/services/${ticker}`, { method: "DELETE" }).then((r) =>
      r.body?.cancel()
    );
  });

  await t.step("the drain and the move are events; the node shows as drained", async () => {
    const { events } = await show(observer);
    const text = events.map((e) => e.message).join("\n");
    assert.match(
      text,
      new RegExp(`moved from ${drained!.name} to \\S+: ${drained!.name} is drained`),
    );
    const all = await observer.json<{ events: { kind: string; node?: string }[] }>(
      "/api/v1/events",
    );
    assert.ok(all.events.some((e) => e.kind === "drained" && e.node === drained!.name));
    const { nodes } = await observer.json<{ nodes: { name: string; drained: boolean }[] }>(
      "/api/v1/nodes",
    );
    assert.equal(nodes.find((n) => n.name === drained!.name)?.drained, true);
    const status = await observer.cli("status");
    assert.match(status.stdout, /recent events/);
    assert.match(status.stdout, new RegExp(`${drained!.name} drained`));
  });

  await t.step("draining a node that does not exist says so and changes nothing", async () => {
    const r = await observer.cli("nodes", "drain", "ghost");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no node is named "ghost"; see fossora nodes/);
    const { nodes } = await observer.json<{ nodes: { drained: boolean; name: string }[] }>(
      "/api/v1/nodes",
    );
    assert.deepEqual(nodes.filter((n) => n.drained).map((n) => n.name), [drained!.name]);
  });

  await t.step("undrain: a new replica may go to the node again", async () => {
    const r = await observer.cli("nodes", "undrain", drained!.name);
    assert.equal(r.code, 0, r.stderr);
    // Four replicas on three nodes: the fewest-replicas rule puts the fourth there.
    await n1.json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({
        name: service,
        image: BUSYBOX_IMAGE,
        replicas: 4,
        ports: [{ container: 80, http: true }],
      }),
      headers: { "content-type": "application/json" },
    });
    await waitFor(
      `a replica on ${drained!.name} again`,
      async () => (await runsOn(drained!)) === 1,
      60_000,
    );
  });

  await t.step(
    `${drained!.name} leaves: its replica moves first, with no failed request`,
    async () => {
      const { failures, requests } = await underLoad(observer, `${service}.${DOMAIN}`, async () => {
        const r = await drained!.cli("leave");
        assert.equal(r.code, 0, r.stderr);
        await drained!.ended;
        const ready = (await show(observer)).replicas.filter((x) => x.ready).map((x) => x.node);
        assert.equal(ready.length, 4, `four replicas serve: ${ready}`);
        assert.ok(!ready.includes(drained!.name));
      });
      assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
      console.log(`  ${requests} requests during the leave, none failed`);
      const copies = await drained!.docker(
        "ps",
        "-q",
        "--filter",
        `label=fossora.service=${service}`,
      );
      assert.equal(copies.stdout.trim(), "", "the node that left runs no copy");
    },
  );
});
