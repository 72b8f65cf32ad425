/**
 * The one-machine cluster harness (helpers/hosts.ts) and `scripts/cluster.ts` on the real thing:
 * hosts are namespaces on a bridge with their own dockerd and agent, reach each other, run a
 * service's container on their own engine, and leave nothing behind: after a normal end, after
 * a test body that throws, after Ctrl-C of the script, after it was killed outright (its reaper
 * removes them), and after it was killed with its reaper (the next harness removes them).
 */
import assert from "node:assert/strict";
import { BUSYBOX_IMAGE, checkEngines, Hosts } from "./helpers/hosts.ts";
import {
  acquireSlot,
  alive,
  HOSTS_ROOT,
  parseProcLocks,
  slotLimit,
  type SlotNames,
  slotNames,
} from "./helpers/hosts_slot.ts";
import { must } from "./helpers/run.ts";
import { waitFor } from "./helpers/wait.ts";

const CLUSTER_SCRIPT = new URL("../scripts/cluster.ts", import.meta.url).pathname;

interface ReplicaView {
  containerId?: string;
  state: string;
  ready: boolean;
}

/** Pids of every process whose arguments name a path under `dir` (dockerd, containerd, agents…). */
function processesUnder(dir: string): Promise<number[]> {
  return processesWith(`${dir}/`);
}

/** Pids of running processes whose arguments (joined by spaces) contain `text`. */
async function processesWith(text: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmdline = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    if (cmdline.replaceAll("\0", " ").includes(text) && await alive(Number(e.name))) {
      pids.push(Number(e.name));
    }
  }
  return pids;
}

/** Checks, with the system's own tools, that nothing of slot `names` is on the machine. */
async function assertNothingLeft(names: SlotNames, pids: number[] = []): Promise<void> {
  const netns = (await must(["ip", "netns", "list"])).split("\n").map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith(names.nsPrefix));
  assert.deepEqual(netns, [], "namespaces left");
  const ours = new RegExp(`^\\d+: (${names.bridge}|${names.vethPrefix}\\d+)[:@]`);
  const links = (await must(["ip", "-o", "link", "show"])).split("\n").filter((l) => ours.test(l));
  assert.deepEqual(links, [], "links left");
  const rules = (await must(["iptables", "-w", "-S", "FORWARD"])).split("\n").filter((l) =>
    l.includes(` ${names.bridge} `) || l.includes(names.rule)
  );
  assert.deepEqual(rules, [], "iptables rules left");
  const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n").filter((l) =>
    l.includes(`${names.dir}/`) || l.split(" ")[4] === names.dir
  );
  assert.deepEqual(mounts, [], "mounts left");
  assert.deepEqual(await processesUnder(names.dir), [], "processes left");
  const running = [];
  for (const pid of pids) if (await alive(pid)) running.push(pid);
  assert.deepEqual(running, [], "processes of the hosts still run");
  const cgroups = [];
  for await (const c of Deno.readDir("/sys/fs/cgroup")) {
    const dirs = c.isDirectory ? [`/sys/fs/cgroup/${c.name}`] : [];
    for (const d of dirs) {
      for await (const e of Deno.readDir(d)) if (e.name.startsWith(names.cgroup)) cgroups.push(e);
    }
  }
  assert.deepEqual(cgroups, [], "cgroups left");
  assert.equal(await Deno.stat(names.dir).then(() => true, () => false), false, "directory left");
}

Deno.test("three hosts: own agents and dockerds, reachable from here and each other, then gone", async (t) => {
  let names: SlotNames | undefined;
  const pids: number[] = [];
  {
    const t0 = performance.now();
    await using cluster = await Hosts.create(3);
    console.log(`3 hosts with ready agents in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    names = cluster.names;
    const [node1, node2, node3] = cluster.hosts;

    await t.step("every agent is ready and answers from this namespace", async () => {
      for (const h of cluster.hosts) {
        assert.equal(h.running, true);
        const res = await fetch(`${h.api}/api/v1/health`);
        assert.deepEqual(await res.json(), { ready: true, node: h.name });
        assert.equal(h.token.length > 20, true);
      }
    });

    await t.step("each API answers from another host's namespace", async () => {
      for (const [from, to] of [[node1, node2], [node2, node3], [node3, node1]]) {
        const r = await from.exec(["curl", "-sf", "--max-time", "5", `${to.api}/api/v1/health`]);
        assert.equal(r.code, 0, `${from.name} -> ${to.name}: ${r.stderr}`);
        assert.deepEqual(JSON.parse(r.stdout), { ready: true, node: to.name });
      }
    });

    await t.step("a service deployed through node2 runs on node2's own dockerd", async () => {
      const name = `web-${crypto.randomUUID().slice(0, 6)}`;
      const spec = { name, image: BUSYBOX_IMAGE, ports: [{ container: 80, http: true }] };
      await node2.json("/api/v1/services", {
        method: "POST",
        body: JSON.stringify(spec),
        headers: { "content-type": "application/json" },
      });
      const replica = await waitFor(`a ready replica of ${name}`, async () => {
        const res = await node2.fetch(`/api/v1/services/${name}`);
        if (!res.ok) return void await res.body?.cancel();
        const { replicas } = (await res.json()) as { replicas: ReplicaView[] };
        return replicas.find((r) => r.ready && r.state === "running" && r.containerId);
      }, 60_000);
      const filter = ["--filter", `label=fossora.service=${name}`];
      const onNode2 = (await node2.docker("ps", "-q", "--no-trunc", ...filter)).stdout.trim();
      assert.equal(onNode2.startsWith(replica.containerId!), true, `node2 runs ${onNode2}`);
      for (const other of [node1, node3]) {
        assert.equal((await other.docker("ps", "-aq", ...filter)).stdout.trim(), "");
      }
      assert.equal((await must(["docker", "ps", "-aq", ...filter])).trim(), "", "root dockerd");
      // Served by node2's proxy to a visitor in node1's namespace.
      const host = `Host: ${name}.fossora.home.arpa`;
      const url = `http://${node2.address}/`;
      const r = await node1.exec(["curl", "-sf", "--max-time", "5", "-H", host, url]);
      assert.equal(r.stdout.trim(), "hello from fossora-test", r.stderr);
      const pid = await node2.docker("inspect", "--format", "{{.State.Pid}}", onNode2);
      pids.push(Number(pid.stdout.trim()));
    });

    await t.step(
      "kill ends agent and etcd; start and restart keep the node; wipe makes a new one",
      async () => {
        const id = node3.nodeId;
        const agent = node3.pid!;
        const etcd = Number(await Deno.readTextFile(`${node3.dataDir}/etcd.pid`));
        await node3.kill();
        assert.equal(node3.running, false);
        assert.equal(await alive(agent), false, "agent");
        assert.equal(await alive(etcd), false, "etcd");
        await node3.start();
        assert.equal(node3.nodeId, id);
        await node3.restart();
        assert.equal(node3.nodeId, id);
        await node3.waitForLine(/INFO agent: ready/);
        const status = await node3.cli("status");
        assert.equal(status.code, 0, status.stderr);
        assert.match(status.stdout, /node3/);
        await node3.wipe();
        assert.deepEqual([...Deno.readDirSync(node3.dataDir)], []);
        await node3.start();
        assert.notEqual(node3.nodeId, id);
      },
    );

    for (const h of cluster.hosts) {
      pids.push(h.pid!, h.dockerdPid!);
      const etcd = Number(await Deno.readTextFile(`${h.dataDir}/etcd.pid`).catch(() => ""));
      if (etcd) pids.push(etcd);
    }
    pids.push(...await processesUnder(cluster.dir));
    assert.equal(pids.length >= 3 * 5, true, `processes of the hosts: ${pids}`);
  }

  await t.step("after dispose nothing is left", async () => {
    await assertNothingLeft(names!, pids);
  });
});

Deno.test("hosts on one shared dockerd: one engine, each agent's replica on it under its own name, then gone", async (t) => {
  let names: SlotNames | undefined;
  {
    // node1 runs the engine; node2 and node3 are separate one-node clusters on it, so each
    // places replica 0 of the same service there: the names would collide without the node id.
    await using cluster = await Hosts.create(3, { dockerOf: () => 1 });
    names = cluster.names;
    const [node1, node2, node3] = cluster.hosts;

    await t.step("only node1 runs a dockerd, and every agent uses it", async () => {
      assert.equal(node2.dockerHost, node1.dockerHost);
      assert.equal(node3.dockerHost, node1.dockerHost);
      assert.equal(node2.dockerdPid, undefined);
      const dockerds = (await processesWith(`--pidfile=${cluster.dir}/`)).length;
      assert.equal(dockerds, 1, "dockerd processes of the harness");
    });

    await t.step("two nodes run the same replica side by side on the one engine", async () => {
      const name = `idle-${crypto.randomUUID().slice(0, 6)}`;
      for (const node of [node2, node3]) {
        await node.json("/api/v1/services", {
          method: "POST",
          body: JSON.stringify({ name, image: BUSYBOX_IMAGE, command: ["sleep", "3600"] }),
          headers: { "content-type": "application/json" },
        });
      }
      for (const node of [node2, node3]) {
        await waitFor(`${node.name}'s replica of ${name} running`, async () => {
          const { replicas } = await node.json<{ replicas: ReplicaView[] }>(
            `/api/v1/services/${name}`,
          );
          return replicas.some((r) => r.state === "running");
        }, 60_000);
      }
      const listed = await node1.docker(
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        `label=fossora.service=${name}`,
      );
      assert.deepEqual(
        listed.stdout.trim().split("\n").sort(),
        [node2, node3].map((n) => `fossora-${name}-0-g1-${n.nodeId}`).sort(),
      );
    });
  }

  await t.step("after dispose nothing is left", async () => {
    await assertNothingLeft(names!);
  });
});

Deno.test("hosts: up to 253 hosts, at most 32 dockerds; a shared engine must run its own", () => {
  assert.doesNotThrow(() => checkEngines(253, (i) => (i <= 32 ? i : 1)));
  assert.throws(() => checkEngines(33), /33 dockerds are more than this machine runs/);
  assert.throws(() => checkEngines(3, () => 4), /dockerOf\(1\) is 4; give a host from 1 to 3/);
  assert.throws(
    () => checkEngines(3, (i) => (i === 3 ? 2 : i === 2 ? 1 : 1)),
    /dockerOf\(3\) is 2/,
  );
});

Deno.test("hosts: private mount namespaces need every host to run its own dockerd", async () => {
  await assert.rejects(
    Hosts.create(2, { privateMounts: true, dockerOf: () => 1 }),
    /privateMounts needs every host to run its own dockerd/,
  );
});

Deno.test("hosts: nothing is left after Ctrl-C, SIGKILL or a test body that throws", async (t) => {
  let killed: SlotNames | undefined;
  let killedPids: number[] = [];

  await t.step("scripts/cluster.ts removes everything on Ctrl-C", async () => {
    const run = await startClusterScript(2);
    try {
      const table = run.lines.join("\n");
      assert.match(table, /NODE\s+ADDRESS\s+ROLE\s+API/);
      for (const api of run.apis) {
        const res = await fetch(`${api}/api/v1/health`);
        assert.equal(res.status, 200, await res.text());
      }
      // The line it prints for the CLI works as it is, and shows node2 joined node1's cluster.
      const cli = run.lines.find((l) => / nodes --api /.test(l));
      assert.ok(cli, table);
      const nodes = await new Deno.Command("sh", { args: ["-c", cli], stdout: "piped" }).output();
      assert.equal(nodes.code, 0);
      const rows = new TextDecoder().decode(nodes.stdout);
      assert.match(rows, /^node1 .* voter +ready/m);
      assert.match(rows, /^node2 .* worker +ready/m);
    } finally {
      run.child.kill("SIGINT");
    }
    const ended = await run.child.status;
    const rest = await run.rest;
    assert.equal(ended.code, 0, rest);
    assert.match(rest, /Removed 2 node\(s\)/);
    await assertNothingLeft(run.names);
  });

  await t.step("scripts/cluster.ts killed outright: its reaper removes everything", async () => {
    const run = await startClusterScript(1);
    const pids = await processesUnder(run.names.dir);
    run.child.kill("SIGKILL");
    await run.child.status;
    await run.rest;
    await waitFor(
      "the reaper to remove the hosts",
      async () => {
        await assertNothingLeft(run.names, pids);
        return true;
      },
      30_000,
      200,
    );
  });

  await t.step("killed with its reaper, it leaves its hosts running", async () => {
    const run = await startClusterScript(1);
    killed = run.names;
    killedPids = await processesUnder(run.names.dir);
    // A slot can have more than one reaper waiting: each guards whoever holds the slot.
    const reapers = await processesWith(`flock ${HOSTS_ROOT}/s${run.names.slot}.lock `);
    for (const pid of reapers) Deno.kill(pid, "SIGKILL");
    run.child.kill("SIGKILL");
    assert.notEqual(reapers.length, 0, "no reaper process");
    await run.child.status;
    await run.rest;
    assert.equal(killedPids.length >= 3, true, `processes: ${killedPids}`);
    const still = [];
    for (const pid of killedPids) if (await alive(pid)) still.push(pid);
    assert.equal(still.length >= 2, true, "the dead harness's dockerd and agent run on");
  });

  await t.step("a harness whose test throws is removed, and it swept the dead one", async () => {
    let names: SlotNames | undefined;
    let pids: number[] = [];
    await assert.rejects(async () => {
      await using cluster = await Hosts.create(1, {
        startAgents: false,
        agentFlags: (h) => ["--api-port", "7441", `--domain=${h.name}.test`],
      });
      names = cluster.names;
      const [h] = cluster.hosts;
      // A running container, so that teardown has its mounts and shim to remove.
      await must(["docker", "-H", h.dockerHost, "run", "-d", BUSYBOX_IMAGE]);
      await h.spawn(["--discovery=none", "--label=disk=ssd"]);
      await h.waitReady();
      // The test's flags reach the agent, and replace the harness's own.
      assert.equal(h.api, `http://${h.address}:7441`);
      assert.equal(h.args().filter((a) => a.startsWith("--discovery")).length, 1);
      const status = await h.cli("status");
      assert.match(status.stdout, /domain node1\.test/, status.stderr);
      pids = await processesUnder(cluster.dir);
      throw new Error("the test failed");
    }, /the test failed/);
    await assertNothingLeft(names!, pids);
    await assertNothingLeft(killed!, killedPids);
  });
});

Deno.test("hosts slots: no more harnesses at once than the limit; the next waits for a free one", async () => {
  // Lock files of its own: harnesses of other tests neither wait for these slots nor take them.
  const lockDir = await Deno.makeTempDir({ prefix: "fossora-slots-" });
  const a = await acquireSlot({ limit: 2, lockDir, timeoutMs: 10_000 });
  const b = await acquireSlot({ limit: 2, lockDir, timeoutMs: 10_000 });
  try {
    assert.notEqual(a.names.slot, b.names.slot);
    let waited = "";
    let third: Awaited<ReturnType<typeof acquireSlot>> | undefined;
    const taking = acquireSlot({ limit: 2, lockDir, onWait: (m) => waited = m, timeoutMs: 10_000 })
      .then((s) => third = s);
    await waitFor("the third taker to say it waits", () => waited !== "", 5_000, 20);
    assert.match(waited, /all 2 hosts slots are taken/);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(third, undefined, "a third slot was given while two were held");
    a.release();
    await taking;
    assert.equal(third!.names.slot, a.names.slot);
    third!.release();
  } finally {
    a.release();
    b.release();
    await Deno.remove(lockDir, { recursive: true });
  }
});

Deno.test("hosts slots: /proc/locks holders are read, waiters are not; the limit is checked", () => {
  const held = parseProcLocks(
    "1: FLOCK  ADVISORY  WRITE 812 fe:00:1234 0 EOF\n" +
      "1: -> FLOCK  ADVISORY  WRITE 813 fe:00:1234 0 EOF\n" +
      "2: POSIX  ADVISORY  READ 7738 00:1a:99 128 128\n" +
      "3: -> FLOCK  ADVISORY  WRITE 900 fe:00:555 0 EOF\n",
  );
  assert.deepEqual([...held].sort(), ["0:26:99", "254:0:1234"]);
  assert.equal(slotLimit(undefined), 2);
  assert.equal(slotLimit("3"), 3);
  for (const bad of ["0", "-1", "2.5", "two", "65"]) {
    assert.throws(() => slotLimit(bad), /FOSSORA_TEST_HOSTS_PARALLEL=.*whole number from 1 to 64/);
  }
});

/** `scripts/cluster.ts N`, read until it says how to stop it; killed if that fails. */
async function startClusterScript(n: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLUSTER_SCRIPT, String(n)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const lines: string[] = [];
  let buffered = "";
  // A script that hangs is killed, which ends its output and so the read below.
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  try {
    while (!lines.includes("Ctrl-C removes the cluster.")) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`cluster.ts ended early:\n${lines.join("\n")}${buffered}\n${await stderr}`);
      }
      buffered += value;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts);
    }
    const text = lines.join("\n");
    const bridge = /on bridge fh(\d+)g([a-z0-9]{4})br /.exec(text);
    assert.ok(bridge, text);
    const apis = lines.filter((l) => /^node\d+ /.test(l)).map((l) => /http:\/\/\S+/.exec(l)?.[0])
      .filter((a) => a !== undefined);
    assert.equal(apis.length, n, text);
    const rest = (async () => {
      let out = buffered;
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
      return out + (await stderr);
    })();
    return { child, lines, rest, apis, names: slotNames(Number(bridge[1]), bridge[2]) };
  } catch (err) {
    try {
      child.kill("SIGINT");
    } catch { /* ended */ }
    await child.status;
    await reader.cancel().catch(() => {});
    await stderr;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
