/**
 * A service with volumes never runs twice (issue 8, point 5). Three hosts (network namespaces,
 * each with its own dockerd and agent) and a one-copy service with a volume, while every
 * host's running copies are sampled every 100 ms: its node, made etcd's leader first, has its
 * link cut (it stops its copy itself before its lease can expire; another node starts it only
 * after), the link comes back (the node that was cut off starts nothing), and the node now
 * running it has its link cut just long enough to stop its copy (its lock, still its own, is let go
 * once the link is back), and the node then running it has its agent and etcd killed with
 * SIGKILL while its container runs on (the agent's watchdog kills it). At no sample do two
 * copies run.
 */
import assert from "node:assert/strict";
import { BUSYBOX_IMAGE, type Host, Hosts } from "./helpers/hosts.ts";
import {
  moveEtcdLeader,
  readyVoters,
  runningCopies,
  setLink,
  settledMembers,
  startJoined,
} from "./helpers/cluster.ts";
import { waitFor } from "./helpers/wait.ts";

interface Sample {
  at: number;
  running: Record<string, number>;
}

/** Counts each host's running copies of `service` every 100 ms until stopped. */
class CopySampler {
  readonly samples: Sample[] = [];
  #stop = false;
  readonly #done: Promise<void>;

  constructor(hosts: Host[], service: string) {
    this.#done = (async () => {
      while (!this.#stop) {
        const at = Date.now();
        const counts = await Promise.all(hosts.map((h) => runningCopies(h, service)));
        this.samples.push({
          at,
          running: Object.fromEntries(hosts.map((h, i) => [h.name, counts[i]])),
        });
        await new Promise((r) => setTimeout(r, Math.max(0, at + 100 - Date.now())));
      }
    })();
  }

  /** The host running a copy at the last sample, if exactly one does. */
  holder(): string | undefined {
    const last = this.samples.at(-1);
    const on = Object.entries(last?.running ?? {}).filter(([, n]) => n > 0);
    return on.length === 1 && on[0][1] === 1 ? on[0][0] : undefined;
  }

  /** The first sample after `since` where `test` holds. */
  async when(what: string, since: number, test: (s: Sample) => boolean): Promise<Sample> {
    return await waitFor(
      what,
      () => this.samples.find((s) => s.at >= since && test(s)) ?? false,
      40_000,
      100,
    );
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

Deno.test("a service with volumes never runs twice: a cut-off node stops it itself, a dead one's watchdog does, and it moves only after the lease expired", async (t) => {
  await using cluster = await Hosts.create(3, { startAgents: false });
  const [n1] = cluster.hosts;
  await startJoined(cluster);
  const service = `db-${crypto.randomUUID().slice(0, 6)}`;
  const spec = (replicas: number) =>
    JSON.stringify({
      name: service,
      image: BUSYBOX_IMAGE,
      replicas,
      command: ["sh", "-c", "echo started >> /data/starts; exec httpd -f -p 80 -h /www"],
      ports: [{ container: 80, http: true }],
      volumes: [{ name: "data", path: "/data" }],
    });
  const post = (via: Host, body: string) =>
    via.fetch("/api/v1/services", {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
    });

  await t.step("two copies of a service with volumes are refused, saying why", async () => {
    await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 90_000);
    await waitFor("three settled etcd voters", () => settledMembers(cluster.hosts), 60_000, 500);
    const res = await post(n1, spec(2));
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.match(JSON.stringify(body.error.details), /runs one copy at a time/);
  });

  const sampler = new CopySampler(cluster.hosts, service);
  const byName = (name: string) => cluster.hosts.find((h) => h.name === name)!;
  const running = () => waitFor("one copy running", () => sampler.holder() ?? false, 30_000, 100);
  try {
    let holder: Host | undefined;
    await t.step("one copy runs", async () => {
      const res = await post(n1, spec(1));
      assert.equal(res.status, 200, await res.text());
      const name = await sampler.when(
        "one copy",
        0,
        (s) => Object.values(s.running).some((n) => n === 1),
      );
      holder = byName(Object.entries(name.running).find(([, n]) => n === 1)![0]);
    });

    let cutOff: Host | undefined;
    await t.step(
      "its node, etcd's leader, has its link cut: it stops its copy, then another node starts it",
      async () => {
        cutOff = holder!;
        // It also leads etcd: the hardest node to lose (the others must elect, and their
        // clients must notice that their connections to it hang).
        await waitFor(
          `${cutOff.name} to lead etcd`,
          async () => {
            await moveEtcdLeader(cluster.hosts, cutOff!);
            return true;
          },
          20_000,
          500,
        );
        const t0 = Date.now();
        await setLink(cutOff, false);
        const fenced = await sampler.when(
          `${cutOff.name} to stop its copy`,
          t0,
          (s) => s.running[cutOff!.name] === 0,
        );
        const moved = await sampler.when(
          "a copy on another node",
          t0,
          (s) => Object.entries(s.running).some(([h, n]) => h !== cutOff!.name && n === 1),
        );
        console.log(
          `  ${cutOff.name} stopped its copy ${((fenced.at - t0) / 1000).toFixed(1)} s after ` +
            `its link was cut; it ran elsewhere ${((moved.at - t0) / 1000).toFixed(1)} s after`,
        );
        assert.ok(fenced.at <= moved.at, "stopped before the other started");
      },
    );

    await t.step("the link comes back: the node that was cut off starts nothing", async () => {
      await setLink(cutOff!, true);
      const back = Date.now();
      await waitFor(
        `${cutOff!.name} in the cluster again`,
        async () => {
          const other = cluster.hosts.find((h) => h !== cutOff)!;
          const { nodes } = await other.json<{ nodes: { name: string; state: string }[] }>(
            "/api/v1/nodes",
          );
          return nodes.find((n) => n.name === cutOff!.name)?.state === "ready";
        },
        60_000,
        250,
      );
      // A few more seconds, so a copy started late would be seen.
      await new Promise((r) => setTimeout(r, 5000));
      assert.ok(
        sampler.samples.filter((s) => s.at >= back).every((s) => s.running[cutOff!.name] === 0),
        `${cutOff!.name} started a copy after its link came back`,
      );
      const events = await byName(await running()).json<
        { events: { message: string }[] }
      >(`/api/v1/services/${service}`);
      assert.match(
        events.events.map((e) => e.message).join("\n"),
        /its volumes did not follow/,
      );
    });

    await t.step(
      "a cut just long enough to stop the copy: the lock, still its node's, is let go when the link is back",
      async () => {
        const now = byName(await running());
        const t0 = Date.now();
        await setLink(now, false);
        const other = cluster.hosts.find((h) => h !== now)!;
        try {
          // Back as soon as it has stopped its copy and the service was moved away (its 3 s
          // lease expired): its lock's 10 s lease has seconds left.
          await sampler.when(`${now.name} to stop its copy`, t0, (s) => s.running[now.name] === 0);
          await waitFor(
            `the service moved away from ${now.name}`,
            async () => {
              const { events } = await other.json<{ events: { message: string; at: string }[] }>(
                `/api/v1/services/${service}`,
              );
              return events.some((e) =>
                Date.parse(e.at) >= t0 && e.message.includes(`moved from ${now.name}`)
              );
            },
            20_000,
            100,
          );
        } finally {
          await setLink(now, true);
        }
        const back = Date.now();
        const again = await sampler.when(
          "one copy running again",
          back,
          (s) => Object.values(s.running).reduce((a, b) => a + b, 0) === 1,
        );
        const where = Object.entries(again.running).find(([, n]) => n === 1)![0];
        assert.notEqual(where, now.name, "the service was moved away while its node was down");
        const expired = now.output.some((l) =>
          Date.parse(l.slice(0, 24)) >= t0 && l.includes("agent.locks: lease lost")
        );
        console.log(
          `  it ran again on ${where} ${((again.at - back) / 1000).toFixed(1)} s after the link ` +
            `came back (its lock's lease ${expired ? "expired" : "lived on"})`,
        );
      },
    );

    await t.step(
      "the agent running it is killed: its watchdog stops the copy, another node starts it",
      async () => {
        const now = byName(await running());
        const t0 = Date.now();
        await now.kill();
        const fenced = await sampler.when(
          `${now.name}'s watchdog to stop its copy`,
          t0,
          (s) => s.running[now.name] === 0,
        );
        const moved = await sampler.when(
          "a copy on another node",
          t0,
          (s) => Object.entries(s.running).some(([h, n]) => h !== now.name && n === 1),
        );
        console.log(
          `  ${now.name}'s copy stopped ${((fenced.at - t0) / 1000).toFixed(1)} s after its ` +
            `agent was killed; it ran elsewhere ${((moved.at - t0) / 1000).toFixed(1)} s after`,
        );
      },
    );
  } finally {
    await sampler.stop();
  }

  await t.step("at no sample did two copies run", () => {
    const twice = sampler.samples.filter((s) =>
      Object.values(s.running).reduce((a, b) => a + b, 0) > 1
    );
    console.log(`  ${sampler.samples.length} samples, 100 ms apart`);
    assert.ok(sampler.samples.length > 100, "sampled long enough");
    assert.deepEqual(twice, []);
  });
});
