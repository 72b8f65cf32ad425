/**
 * The runtime on the real Docker engine. Each test has its own world (test_world.ts), so tests
 * running in parallel never see each other's containers.
 */
import assert from "node:assert/strict";
import { dockerArch } from "../membership/mod.ts";
import { foreignImage } from "../../test/helpers/images.ts";
import { createDockerApi, type DockerApi } from "./docker.ts";
import { tcpProbe } from "./probe.ts";
import { Runtime } from "./runtime.ts";
import {
  bind,
  docker,
  IMAGE,
  inWorld,
  rand,
  ready,
  SOCKET,
  spec,
  waitFor,
  wanted,
  World,
} from "./test_world.ts";

async function inspect(id: string): Promise<{ StartedAt: string; Running: boolean }> {
  return JSON.parse(await docker("inspect", "-f", "{{json .State}}", id));
}

Deno.test("two replicas become running and ready and answer HTTP on their host ports", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service(), { env: { GREETING: "hi there" } });
    const rt = w.runtime();
    rt.setWanted(wanted(s, 1, [0, 1]));
    await rt.start();
    const statuses = await waitFor("2 ready replicas", () => ready(rt, 2));
    for (const st of statuses) {
      assert.equal(st.node, w.node);
      assert.equal(st.address, "127.0.0.1");
      assert.equal(st.generation, 1);
      const res = await fetch(`http://127.0.0.1:${st.ports["80"]}/`);
      assert.equal((await res.text()).trim(), "hello from fossora-test");
      const info = JSON.parse(await docker("inspect", st.containerId!))[0];
      assert.equal(info.Name, `/fossora-${s.name}-${st.replica}-g1-${w.node}`);
      assert.equal(info.Config.Labels["fossora.managed"], "true");
      assert.equal(info.Config.Labels["fossora.node"], w.node);
      assert.equal(info.Config.Labels["fossora.service"], s.name);
      assert.equal(info.Config.Labels["fossora.replica"], String(st.replica));
      assert.equal(info.Config.Labels["fossora.generation"], "1");
      assert.ok(info.Config.Env.includes("GREETING=hi there"));
      assert.equal(info.HostConfig.RestartPolicy.Name, "no");
      // Published on the node's address only, and with a log that cannot fill the disk.
      assert.deepEqual(info.HostConfig.PortBindings["80/tcp"], [
        { HostIp: "127.0.0.1", HostPort: "" },
      ]);
      assert.deepEqual(
        info.NetworkSettings.Ports["80/tcp"].map((b: { HostIp: string }) => b.HostIp),
        [
          "127.0.0.1",
        ],
      );
      assert.deepEqual(info.HostConfig.LogConfig, {
        Type: "json-file",
        Config: { "max-file": "3", "max-size": "10m" },
      });
    }
    const mine = w.reports.filter((r) => r.replica === 0);
    assert.equal(mine[0].state, "pending", "a replica is reported before its container exists");
    for (let i = 1; i < mine.length; i++) {
      const a = mine[i - 1], b = mine[i];
      assert.notDeepEqual({ ...a, since: "" }, { ...b, since: "" }, "reported only on change");
      if (a.state === b.state) assert.equal(a.since, b.since, "since moves only with state");
    }
  });
});

Deno.test("stop leaves containers running and a new runtime adopts them without restart", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const first = w.runtime();
    first.setWanted(wanted(s, 1, [0, 1]));
    await first.start();
    const before = await waitFor("2 ready replicas", () => ready(first, 2));
    await first.stop();
    const started = new Map<string, string>();
    for (const st of before) {
      const state = await inspect(st.containerId!);
      assert.equal(state.Running, true, "stop() leaves the container running");
      started.set(st.containerId!, state.StartedAt);
    }
    const second = w.runtime();
    second.setWanted(wanted(s, 1, [0, 1]));
    await second.start();
    const after = await waitFor("2 ready replicas again", () => ready(second, 2));
    assert.deepEqual(
      after.map((r) => r.containerId).sort(),
      before.map((r) => r.containerId).sort(),
    );
    for (const [id, at] of started) assert.equal((await inspect(id)).StartedAt, at);
    assert.equal(
      await docker("ps", "-aq", "--filter", `label=fossora.node=${w.node}`).then((o) =>
        o.split("\n").length
      ),
      2,
    );
  });
});

Deno.test("a new generation replaces the containers, old ones removed", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const rt = w.runtime();
    rt.setWanted(wanted(s, 1, [0]));
    await rt.start();
    const [old] = await waitFor("gen 1 ready", () => ready(rt, 1));
    rt.setWanted(wanted(s, 2, [0]));
    const [now] = await waitFor(
      "gen 2 ready",
      () => ready(rt, 1, (r) => r.generation === 2),
    );
    assert.notEqual(now.containerId, old.containerId);
    const names = await docker(
      "ps",
      "-a",
      "--format",
      "{{.Names}}",
      "--filter",
      `label=fossora.node=${w.node}`,
    );
    assert.equal(names, `fossora-${s.name}-0-g2-${w.node}`);
  });
});

Deno.test("a replica no longer wanted is stopped, removed and forgotten", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const rt = w.runtime();
    rt.setWanted(wanted(s, 1, [0, 1]));
    await rt.start();
    const statuses = await waitFor("2 ready", () => ready(rt, 2));
    rt.setWanted(wanted(s, 1, [0]));
    await waitFor("replica 1 forgotten", () => w.forgotten.includes(`${s.name}/1`));
    assert.deepEqual(w.forgotten, [`${s.name}/1`]);
    const left = await docker(
      "ps",
      "-aq",
      "--no-trunc",
      "--filter",
      `label=fossora.node=${w.node}`,
    );
    assert.equal(left, statuses.find((r) => r.replica === 0)!.containerId);
    assert.deepEqual(rt.status().map((r) => r.replica), [0]);
  });
});

Deno.test("a killed container is reported exited, then restarted and running again", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("ready", () => ready(rt, 1));
    await docker("kill", st.containerId!);
    await waitFor("exited report", () => w.reports.find((r) => r.state === "exited"));
    const exit = w.reports.find((r) => r.state === "exited")!;
    assert.equal(exit.exitCode, 137);
    const [back] = await waitFor(
      "running after restart",
      () => ready(rt, 1, (r) => r.restarts === 1),
    );
    assert.equal(back.containerId, st.containerId, "docker start of the same container");
    const res = await fetch(`http://127.0.0.1:${back.ports["80"]}/`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("containers of other tools and other nodes are never touched", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const plain = `other-${rand()}`;
    const otherNode = `other-node-${rand()}`;
    w.extra.push(plain, otherNode);
    await docker("run", "-d", "--name", plain, IMAGE, "sleep", "1000");
    await docker(
      "run",
      "-d",
      "--name",
      otherNode,
      "--label",
      "fossora.managed=true",
      "--label",
      `fossora.node=x-${rand()}`,
      "--label",
      `fossora.service=${s.name}`,
      "--label",
      "fossora.replica=0",
      "--label",
      "fossora.generation=1",
      IMAGE,
      "sleep",
      "1000",
    );
    // A leftover with the exact name this node would use, but not this node's labels.
    const taken = `fossora-${s.name}-0-g1-${w.node}`;
    w.extra.push(taken);
    await docker("run", "-d", "--name", taken, IMAGE, "sleep", "1000");
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("name conflict error", () => {
      const r = rt.status();
      return r[0]?.state === "error" ? r : undefined;
    });
    assert.match(st.message!, /is taken by a container .* does not manage/);
    rt.setWanted([]);
    // Let a few full passes run with nothing wanted: nothing foreign may be touched by them.
    const passes = w.lists;
    await waitFor("3 more passes", () => w.lists >= passes + 3);
    for (const name of [plain, otherNode, taken]) {
      assert.equal((await inspect(name)).Running, true, `${name} still running`);
    }
  });
});

Deno.test("two nodes sharing one engine run the same replica side by side, each removing only its own", async () => {
  const a = new World();
  const b = new World();
  try {
    const s = spec(a.service());
    const onA = a.runtime();
    onA.setWanted(wanted(s));
    await onA.start();
    const [first] = await waitFor("the replica ready on node a", () => ready(onA, 1));
    // The replica moved to b (a was taken for down) while a still holds its container: b must
    // not be refused a name a holds.
    const onB = b.runtime();
    onB.setWanted(wanted(s));
    await onB.start();
    const [second] = await waitFor("the replica ready on node b", () => ready(onB, 1));
    assert.notEqual(second.containerId, first.containerId);
    onA.setWanted([]);
    await waitFor(
      "node a's container removed",
      async () => (await docker("ps", "-aq", "--filter", `label=fossora.node=${a.node}`)) === "",
    );
    assert.equal((await inspect(second.containerId!)).Running, true, "b's container untouched");
    assert.ok(ready(onB, 1, (r) => r.containerId === second.containerId));
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

Deno.test("a missing image that cannot be pulled is an error with Docker's message, retried with backoff", async () => {
  await inWorld(async (w) => {
    let pulls = 0;
    const api: DockerApi = {
      ...bind(w.api),
      pull: (image, signal) => {
        pulls++;
        return w.api.pull(image, signal);
      },
    };
    const s = spec(w.service(), { image: `fossora-test/nope-${rand()}:1` });
    const rt = w.runtime({ docker: api });
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("error", () => {
      const r = rt.status();
      return r[0]?.state === "error" ? r : undefined;
    });
    assert.match(st.message!, /registry|pull access denied|no such host|not found|dial tcp/i);
    assert.ok(w.reports.some((r) => r.state === "pulling"), "pulling was reported first");
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 3_500));
    const elapsed = Date.now() - t0;
    // Backoff 1 s, 2 s, 4 s: at most 3 pulls in the first 3.5 s (plus the first one).
    assert.ok(pulls >= 2 && pulls <= 4, `pulls=${pulls} in ${elapsed} ms`);
  });
});

Deno.test("a named volume keeps its files across a generation change", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service(), {
      command: ["sleep", "1000"],
      ports: [],
      volumes: [{ name: "data", path: "/data" }],
    });
    const rt = w.runtime();
    rt.setWanted(wanted(s, 1));
    await rt.start();
    const [one] = await waitFor("gen 1 running", () => ready(rt, 1));
    await docker("exec", one.containerId!, "sh", "-c", "echo kept > /data/f");
    rt.setWanted(wanted({ ...s, env: { V: "2" } }, 2));
    const [two] = await waitFor(
      "gen 2 running",
      () => ready(rt, 1, (r) => r.generation === 2),
    );
    assert.notEqual(two.containerId, one.containerId);
    assert.equal(await docker("exec", two.containerId!, "cat", "/data/f"), "kept");
    const vol = JSON.parse(await docker("volume", "inspect", `fossora-${s.name}-data`))[0];
    assert.equal(vol.Labels["fossora.managed"], "true");
  });
});

Deno.test("logs returns the container's output and follow streams new lines", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service(), { command: ["sh", "-c", "echo hello; sleep 1000"], ports: [] });
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("running", () => ready(rt, 1));
    const text = await waitFor("hello in logs", async () => {
      const t = await new Response(await rt.logs(s.name, 0, { follow: false })).text();
      return t.includes("hello") ? t : undefined;
    });
    assert.equal(text, "hello\n");
    const ctl = new AbortController();
    const stream = await rt.logs(s.name, 0, { follow: true, tail: 10, signal: ctl.signal });
    const reader = stream.getReader();
    try {
      let seen = "";
      const dec = new TextDecoder();
      const read = async (want: string) => {
        while (!seen.includes(want)) {
          const r = await reader.read();
          if (r.done) throw new Error(`stream ended before ${want}`);
          seen += dec.decode(r.value);
        }
      };
      await read("hello\n");
      await docker("exec", st.containerId!, "sh", "-c", "echo world > /proc/1/fd/1");
      await read("world\n");
      assert.equal(seen, "hello\nworld\n");
    } finally {
      ctl.abort();
      await reader.cancel();
    }
    await assert.rejects(rt.logs(s.name, 5, { follow: false }), /no container/);
  });
});

Deno.test("an unreachable engine gives error states and start does not throw", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const rt = w.runtime({ docker: createDockerApi(`unix:///tmp/no-docker-${rand()}.sock`) });
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = rt.status();
    assert.equal(st.state, "error");
    assert.match(st.message!, /docker engine unreachable/);
    assert.equal(st.ready, false);
  });
});

/** An address of this host other than loopback, if it has one. */
async function otherAddress(): Promise<string | undefined> {
  const out = await new Deno.Command("ip", { args: ["-4", "-o", "addr", "show"], stdout: "piped" })
    .output();
  const addrs = new TextDecoder().decode(out.stdout).matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g);
  return [...addrs].map((m) => m[1]).find((a) => !a.startsWith("127."));
}

/** True when a TCP connection to host:port is accepted. */
async function connects(hostname: string, port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("a port published on the node's address is not reachable on the host's other addresses", async () => {
  const other = await otherAddress();
  assert.ok(other, "this host needs a non-loopback IPv4 address for this test");
  await inWorld(async (w) => {
    const s = spec(w.service());
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("ready", () => ready(rt, 1));
    const port = st.ports["80"];
    assert.equal(await connects("127.0.0.1", port), true);
    assert.equal(await connects(other, port), false, `${other}:${port} must not answer`);
  });
});

Deno.test("with address 0.0.0.0 ports are published on every interface and probed on loopback", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    const probed: string[] = [];
    const rt = w.runtime({
      address: "0.0.0.0",
      probe: (port, host) => {
        probed.push(host);
        return tcpProbe(port, 1_000, host);
      },
    });
    rt.setWanted(wanted(s));
    await rt.start();
    const [st] = await waitFor("ready", () => ready(rt, 1));
    assert.equal(st.address, "0.0.0.0");
    const info = JSON.parse(await docker("inspect", st.containerId!))[0];
    assert.equal(info.HostConfig.PortBindings["80/tcp"][0].HostIp, "0.0.0.0");
    assert.deepEqual([...new Set(probed)], ["127.0.0.1"]);
  });
});

Deno.test("logs without tail sends only the last 1000 lines", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service(), {
      command: ["sh", "-c", "seq 1 1500 | sed s/^/line/; sleep 1000"],
      ports: [],
    });
    const rt = w.runtime();
    rt.setWanted(wanted(s));
    await rt.start();
    await waitFor("running", () => ready(rt, 1));
    const text = await waitFor("the last line in the log", async () => {
      const t = await new Response(await rt.logs(s.name, 0, { follow: false })).text();
      return t.includes("line1500\n") ? t : undefined;
    });
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 1000);
    assert.equal(lines[0], "line501");
    const all = await new Response(await rt.logs(s.name, 0, { follow: false, tail: 5000 }))
      .text();
    assert.equal(all.trimEnd().split("\n").length, 1500, "an explicit tail is honoured");
  });
});

Deno.test("stop between create and start leaves a container the next runtime adopts", async () => {
  await inWorld(async (w) => {
    const s = spec(w.service());
    let stopping: Promise<void> | undefined;
    let created = "";
    const first: Runtime = w.runtime({
      docker: {
        ...bind(w.api),
        create: async (o, signal) => {
          created = await w.api.create(o, signal);
          stopping = first.stop();
          return created;
        },
      },
    });
    first.setWanted(wanted(s));
    await first.start();
    // A promise would be awaited by waitFor itself: wait for it to exist, then time it.
    await waitFor("stop called after create", () => stopping !== undefined);
    const t0 = Date.now();
    await stopping;
    assert.ok(Date.now() - t0 < 2_000, "stop returned promptly");
    assert.equal((await inspect(created)).Running, false, "the start was cancelled");
    const second = w.runtime();
    second.setWanted(wanted(s));
    await second.start();
    const [st] = await waitFor("ready", () => ready(second, 1));
    assert.equal(st.containerId, created, "the half-made container was adopted and started");
    const left = await docker(
      "ps",
      "-aq",
      "--no-trunc",
      "--filter",
      `label=fossora.node=${w.node}`,
    );
    assert.equal(left, created);
  });
});

Deno.test("a health check gates readiness on the real engine: ready once healthy, an unhealthy one says why", async () => {
  await inWorld(async (w) => {
    const late = spec(w.service(), {
      command: ["sh", "-c", "(sleep 2; touch /tmp/ok) & exec httpd -f -p 80 -h /www"],
      // Its start period covers the 2 s it needs: failures then do not make it unhealthy.
      healthcheck: {
        test: ["CMD-SHELL", "test -f /tmp/ok"],
        interval: "200ms",
        retries: 1,
        startPeriod: "10s",
      },
    });
    const sick = spec(w.service(), {
      ports: [],
      healthcheck: {
        test: ["CMD", "sh", "-c", "echo no database; exit 1"],
        interval: "200ms",
        retries: 1,
      },
    });
    const rt = w.runtime();
    rt.setWanted([...wanted(late), ...wanted(sick)]);
    await rt.start();
    const waiting = await waitFor(
      "the late one to wait for its check",
      () =>
        w.reports.find((r) => r.service === late.name && r.containerId && r.state === "starting"),
    );
    assert.equal(waiting.message, "waiting for its health check to pass");
    assert.equal(waiting.ready, false);
    const up = await waitFor(
      "the late one ready",
      () => rt.status().find((r) => r.service === late.name && r.state === "running" && r.ready),
    );
    // Its HTTP port answered long before: the check held it back.
    assert.ok(Date.parse(up.since) - Date.parse(waiting.since) >= 1500);
    const info = JSON.parse(await docker("inspect", up.containerId!))[0];
    assert.deepEqual(info.Config.Healthcheck, {
      Test: ["CMD-SHELL", "test -f /tmp/ok"],
      Interval: 200_000_000,
      StartPeriod: 10_000_000_000,
      Retries: 1,
    });
    const failing = await waitFor(
      "the sick one unhealthy",
      () => rt.status().find((r) => r.service === sick.name && r.state === "error"),
    );
    assert.equal(failing.message, "unhealthy: no database");
    assert.ok(w.reports.filter((r) => r.service === sick.name).every((r) => !r.ready));
  });
});

Deno.test("an image's platforms: an image loaded here is built for what its config says; an unknown one is unknown", async () => {
  const api = createDockerApi(SOCKET);
  // No registry here: the local image answers, since it was loaded, not pulled.
  assert.deepEqual(await api.platforms(IMAGE), [`linux/${dockerArch()}`]);
  const arm = await foreignImage("arm64");
  assert.deepEqual(await api.platforms(arm), ["linux/arm64"]);
  assert.equal(await api.platforms(`fossora-test/nowhere-${rand()}:1`), undefined);
});

Deno.test("an unhealthy container is stopped and restarted on the real engine, its restarts counted", async () => {
  await inWorld(async (w) => {
    // Healthy for its first seconds, then unhealthy: the restart makes it healthy again.
    const flaky = spec(w.service(), {
      ports: [],
      command: ["sh", "-c", "touch /tmp/ok; (sleep 2; rm /tmp/ok) & exec sleep 600"],
      healthcheck: { test: ["CMD-SHELL", "test -f /tmp/ok"], interval: "200ms", retries: 1 },
    });
    const rt = w.runtime();
    rt.setWanted(wanted(flaky));
    await rt.start();
    const first = await waitFor("healthy", () => ready(rt, 1));
    const again = await waitFor(
      "restarted after it turned unhealthy",
      () => rt.status().find((r) => r.restarts >= 1 && r.ready),
      30_000,
    );
    assert.equal(again.containerId, first[0].containerId, "the same container, restarted");
    assert.ok(
      w.reports.some((r) => r.state === "error" && r.message?.startsWith("unhealthy: ")),
      "it was shown unhealthy before its restart",
    );
  });
});

Deno.test("a stack's container joins the network attach names, gets its hosts lines, keeps its container-only port unpublished and reports its stack address", async () => {
  await inWorld(async (w) => {
    const stack = `k${rand()}`;
    const network = `fossora-${stack}`;
    await docker("network", "create", network);
    try {
      const name = `web.${stack}`;
      w.services.push(name);
      const attached: string[] = [];
      const rt = w.runtime({
        attach: (s) => {
          attached.push(s.name);
          return Promise.resolve({ network, hosts: ["db:198.18.7.7"] });
        },
      });
      rt.setWanted(wanted(spec(name, {
        stack,
        ports: [{ container: 80, http: true }, { container: 8080, http: false }],
      })));
      await rt.start();
      const [s] = await waitFor("the replica ready", () => ready(rt, 1));
      assert.deepEqual(attached, [name]);
      assert.ok(s.ports["80"], "the HTTP port is published");
      assert.equal(s.ports["8080"], undefined, "the container-only port is not");
      const ip = await docker(
        "inspect",
        "-f",
        `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
        s.containerId!,
      );
      assert.equal(s.stackAddress, ip);
      assert.deepEqual(s.exposed, [80, 8080]);
      assert.match(await docker("exec", s.containerId!, "cat", "/etc/hosts"), /198\.18\.7\.7\s+db/);
    } finally {
      await w.cleanup();
      await docker("network", "rm", network).catch(() => {});
    }
  });
});
