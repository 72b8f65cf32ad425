/**
 * The loop's own behaviour (event reconnects, an engine going down and up, failed reports,
 * bad input) against an in-memory engine, with timers that run fast but record their delays.
 */
import assert from "node:assert/strict";
import type { ReplicaStatus } from "../state/types.ts";
import { createLogger } from "../util/log.ts";
import type { ContainerState, CreateOptions, DockerApi, DockerEvent } from "./docker.ts";
import { DockerError } from "./docker.ts";
import { containerName, type WantedReplica } from "./labels.ts";
import { Runtime, type RuntimeOptions, type TimerId } from "./runtime.ts";

/** An engine in memory: containers run when started and stay up until stopped. */
class FakeDocker implements DockerApi {
  containers = new Map<string, ContainerState>();
  /** Every create, as asked. */
  created: CreateOptions[] = [];
  /** Times list was called: each is one reconcile pass. */
  lists = 0;
  down = false;
  eventConnects = 0;
  /** How each event connection ends: "fail" throws, "end" ends the stream, "stay" waits. */
  eventMode: "fail" | "end" | "stay" = "stay";
  #next = 0;
  #push: ((e: DockerEvent) => void) | undefined;

  #check(): void {
    if (this.down) throw new DockerError("connect ENOENT /var/run/docker.sock");
  }
  list(labels: Record<string, string>): Promise<ContainerState[]> {
    this.lists++;
    this.#check();
    const match = (c: ContainerState) =>
      Object.entries(labels).every(([k, v]) => c.labels[k] === v);
    return Promise.resolve([...this.containers.values()].filter(match).map((c) => ({ ...c })));
  }
  inspect(id: string): Promise<ContainerState | undefined> {
    this.#check();
    const c = this.containers.get(id) ??
      [...this.containers.values()].find((x) => x.name === id);
    return Promise.resolve(c && { ...c });
  }
  hasImage(): Promise<boolean> {
    this.#check();
    return Promise.resolve(true);
  }
  platforms(): Promise<string[] | undefined> {
    return Promise.resolve(undefined);
  }
  pull(_image: string, _signal?: AbortSignal): Promise<void> {
    return Promise.resolve();
  }
  ensureVolume(): Promise<void> {
    return Promise.resolve();
  }
  create(o: CreateOptions): Promise<string> {
    this.#check();
    this.created.push(o);
    const id = `c${++this.#next}`;
    this.containers.set(id, {
      id,
      name: o.name,
      labels: o.labels,
      image: o.image,
      status: "created",
      running: false,
      exitCode: 0,
      error: "",
      startedAt: 0,
      finishedAt: 0,
      ports: { "80": 32768 },
    });
    return Promise.resolve(id);
  }
  start(id: string): Promise<void> {
    this.#check();
    const c = this.containers.get(id)!;
    Object.assign(c, { status: "running", running: true, startedAt: Date.now() });
    return Promise.resolve();
  }
  stop(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (c) Object.assign(c, { status: "exited", running: false, finishedAt: Date.now() });
    return Promise.resolve();
  }
  remove(id: string): Promise<void> {
    this.containers.delete(id);
    return Promise.resolve();
  }
  events(_: Record<string, string>, signal: AbortSignal): Promise<AsyncIterable<DockerEvent>> {
    this.eventConnects++;
    if (this.eventMode === "fail") return Promise.reject(new DockerError("events: refused"));
    const mode = this.eventMode;
    const queue: DockerEvent[] = [];
    let wake: (() => void) | undefined;
    this.#push = (e) => {
      queue.push(e);
      wake?.();
    };
    signal.addEventListener("abort", () => wake?.(), { once: true });
    return Promise.resolve((async function* () {
      if (mode === "end") return;
      while (!signal.aborted) {
        if (queue.length) yield queue.shift()!;
        else await new Promise<void>((r) => (wake = r));
      }
    })());
  }
  emit(e: DockerEvent): void {
    this.#push?.(e);
  }
  logs(): Promise<ReadableStream<Uint8Array>> {
    return Promise.resolve(new ReadableStream({ start: (c) => c.close() }));
  }
}

function want(replica = 0, generation = 1): WantedReplica {
  return {
    service: "web",
    replica,
    generation,
    spec: {
      name: "web",
      image: "img:1",
      replicas: 1,
      ports: [],
      env: {},
      volumes: [],
      placement: {},
    },
  };
}

async function waitFor<T>(what: string, check: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A runtime over a fake engine whose timers fire within 5 ms but record what was asked. */
function setup(over: Partial<RuntimeOptions> = {}) {
  const docker = new FakeDocker();
  const reports: ReplicaStatus[] = [];
  const delays: number[] = [];
  const rt = new Runtime({
    docker,
    nodeId: "n1",
    address: "10.0.0.1",
    report: (s) => void reports.push(s),
    forget: () => {},
    resyncMs: 60_000,
    setTimer: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, Math.min(ms, 5));
    },
    clearTimer: (id: TimerId) => clearTimeout(id),
    ...over,
  });
  return { docker, reports, delays, rt };
}

Deno.test("a broken event stream is reconnected with growing backoff", async () => {
  const { docker, delays, rt } = setup({ readyProbeMs: 0 });
  docker.eventMode = "fail";
  await rt.start();
  try {
    await waitFor("4 connects", () => docker.eventConnects >= 4);
    // Passes ask for ~60 s (the resync period); reconnects ask for 1 s, 2 s, 4 s...
    const backoffs = delays.filter((d) => d >= 1_000 && d <= 30_000);
    assert.deepEqual(backoffs.slice(0, 3), [1_000, 2_000, 4_000]);
  } finally {
    await rt.stop();
  }
});

Deno.test("an event stream that ends is reopened and events trigger passes", async () => {
  const { docker, rt } = setup();
  docker.eventMode = "end";
  await rt.start();
  try {
    await waitFor("reconnect", () => docker.eventConnects >= 2);
    docker.eventMode = "stay";
    const connects = docker.eventConnects;
    await waitFor("stable connection", () => docker.eventConnects > connects);
    // A container appears behind the runtime's back; the event makes the runtime see it.
    rt.setWanted([want()]);
    const [s] = await waitFor("running", () => rt.status()[0]?.state === "running" && rt.status());
    docker.containers.get(s.containerId!)!.status = "exited";
    docker.containers.get(s.containerId!)!.running = false;
    docker.containers.get(s.containerId!)!.exitCode = 3;
    docker.emit({ id: s.containerId!, action: "die" });
    await waitFor("restarted", () => rt.status()[0]?.restarts === 1);
  } finally {
    await rt.stop();
  }
});

Deno.test("an engine that goes down reports errors, and recovery reports running", async () => {
  const { docker, reports, rt } = setup({ resyncMs: 20 });
  docker.down = true;
  rt.setWanted([want()]);
  await rt.start();
  try {
    assert.equal(rt.status()[0].state, "error");
    assert.match(rt.status()[0].message!, /docker engine unreachable: connect ENOENT/);
    const errors = reports.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reports.length, errors, "the same error is not reported again");
    docker.down = false;
    await waitFor("running", () => rt.status()[0]?.state === "running");
    assert.deepEqual(reports.map((r) => r.state), ["error", "pending", "running"]);
  } finally {
    await rt.stop();
  }
});

Deno.test("a failed report is retried on the next pass", async () => {
  let calls = 0;
  const got: ReplicaStatus[] = [];
  const { rt } = setup({
    resyncMs: 20,
    report: (s) => {
      if (++calls === 1) throw new Error("etcd unavailable");
      got.push(s);
    },
  });
  rt.setWanted([want()]);
  await rt.start();
  try {
    await waitFor("running reported", () => got.some((s) => s.state === "running"));
    assert.ok(calls >= 2);
  } finally {
    await rt.stop();
  }
});

Deno.test("a bad entry is set aside with an error status while the valid ones run", async () => {
  const lines: string[] = [];
  const { docker, reports, rt } = setup({
    log: createLogger("rt", { sink: (l) => lines.push(l) }),
  });
  const noImage = { ...want(1), spec: { ...want(1).spec, image: "" } };
  const badName = { ...want(2), service: "web/../x" };
  const list = [want(0), noImage, badName] as WantedReplica[];
  // The agent calls setWanted from a microtask: a throw there would kill the process.
  rt.setWanted(list);
  rt.setWanted(structuredClone(list));
  rt.setWanted([...structuredClone(list), { ...want(0), generation: 0 }] as WantedReplica[]);
  await rt.start();
  try {
    await waitFor("replica 0 running", () => rt.status()[0]?.state === "running");
    assert.equal(docker.containers.size, 1, "only the valid entry got a container");
    const bad = await waitFor("error reported", () => reports.find((r) => r.replica === 1));
    assert.equal(bad.state, "error");
    assert.equal(bad.service, "web");
    assert.match(bad.message!, /spec\.image must be a non-empty string/);
    assert.deepEqual(rt.status().map((s) => [s.replica, s.state]), [[0, "running"], [1, "error"]]);
    assert.equal(reports.filter((r) => r.replica === 1).length, 1, "reported once");
    assert.ok(!reports.some((r) => r.service !== "web"), "a bad name is never written");
    const logged = lines.filter((l) => l.includes("not applied"));
    assert.equal(logged.filter((l) => l.includes("spec.image")).length, 1, "logged once");
    assert.equal(logged.filter((l) => l.includes("web/../x")).length, 1);
    assert.equal(logged.filter((l) => l.includes("listed twice")).length, 1);
  } finally {
    await rt.stop();
  }
});

Deno.test("a set-aside replica keeps its container, and is forgotten once no longer listed", async () => {
  const forgotten: string[] = [];
  const { docker, reports, rt } = setup({
    forget: (service, replica) => void forgotten.push(`${service}/${replica}`),
  });
  rt.setWanted([want(0), want(1)]);
  await rt.start();
  try {
    await waitFor("2 running", () => rt.status().filter((s) => s.state === "running").length === 2);
    const broken = { ...want(1, 2), spec: { ...want(1).spec, ports: [{ container: 70000 }] } };
    rt.setWanted([want(0), broken] as WantedReplica[]);
    await waitFor("error", () => rt.status()[1]?.state === "error");
    assert.match(rt.status()[1].message!, /container port 1\.\.65535/);
    assert.equal(rt.status()[1].generation, 2);
    assert.equal(docker.containers.size, 2, "the running container is not removed");
    rt.setWanted([want(0)]);
    await waitFor("forgotten", () => forgotten.includes("web/1"));
    assert.equal(docker.containers.size, 1);
    assert.deepEqual(rt.status().map((s) => s.replica), [0]);
    // A bad entry that never ran is forgotten too, so its error does not linger in etcd.
    rt.setWanted([want(0), { ...want(5), generation: -1 } as WantedReplica]);
    await waitFor("error for 5", () => reports.some((r) => r.replica === 5));
    rt.setWanted([want(0)]);
    await waitFor("5 forgotten", () => forgotten.includes("web/5"));
  } finally {
    await rt.stop();
  }
});

Deno.test("setWanted with something that is not a list keeps the current one", async () => {
  const { docker, rt } = setup();
  rt.setWanted([want()]);
  rt.setWanted(undefined as unknown as WantedReplica[]);
  await rt.start();
  try {
    await waitFor("running", () => rt.status()[0]?.state === "running");
    assert.equal(docker.containers.size, 1);
  } finally {
    await rt.stop();
  }
});

Deno.test("an unchanged wanted list does not start a pass", async () => {
  const { docker, rt } = setup({ setTimer: () => 0 as unknown as TimerId, clearTimer: () => {} });
  rt.setWanted([want(0), want(1)]);
  await rt.start();
  try {
    await waitFor("2 running", () => rt.status().filter((s) => s.state === "running").length === 2);
    // Idle once the last pass has seen both running and nothing is left to do.
    let lists = docker.lists;
    await waitFor("idle", () => {
      const still = docker.lists === lists;
      lists = docker.lists;
      return still;
    });
    const before = docker.lists;
    const same = [want(1), want(0)].map((w) => JSON.parse(JSON.stringify(w)));
    rt.setWanted(same);
    assert.equal(docker.lists, before, "an equal list (other order, new objects) is a no-op");
    rt.setWanted([want(0), want(1, 2)]);
    assert.equal(docker.lists, before + 1, "a changed generation starts a pass at once");
  } finally {
    await rt.stop();
  }
});

Deno.test("stop returns at once during an image pull that never finishes", async () => {
  const docker = new FakeDocker();
  let pullSignal: AbortSignal | undefined;
  docker.hasImage = () => Promise.resolve(false);
  // A pull that ignores its signal: stop() must not depend on the engine letting go.
  docker.pull = (_image: string, signal?: AbortSignal) => {
    pullSignal = signal;
    return new Promise<void>(() => {});
  };
  const reports: ReplicaStatus[] = [];
  const rt = new Runtime({
    docker,
    nodeId: "n1",
    address: "10.0.0.1",
    report: (s) => void reports.push(s),
    forget: () => {},
  });
  rt.setWanted([want()]);
  await rt.start();
  let stopped = false;
  try {
    await waitFor("pulling", () => rt.status()[0]?.state === "pulling");
  } finally {
    const t0 = Date.now();
    await rt.stop().then(() => (stopped = true));
    assert.ok(stopped && Date.now() - t0 < 1_000, `stop took ${Date.now() - t0} ms`);
  }
  assert.equal(pullSignal?.aborted, true, "the pull was told to stop");
  assert.equal(docker.containers.size, 0, "nothing is created after a cancelled pull");
  assert.ok(!reports.some((r) => r.state === "error"), "a stop is not reported as a failure");
});

Deno.test("stop is bounded even when a report never returns", async () => {
  let reporting = false;
  const { rt } = setup({
    report: () => {
      reporting = true;
      return new Promise<void>(() => {});
    },
    stopWaitMs: 50,
    setTimer: (fn, ms) => setTimeout(fn, ms),
  });
  rt.setWanted([want()]);
  void rt.start();
  await waitFor("a report under way", () => reporting);
  const t0 = Date.now();
  await rt.stop();
  const took = Date.now() - t0;
  assert.ok(took >= 40 && took < 1_000, `stop took ${took} ms`);
});

Deno.test("ports are published on the node's address and probed there", async () => {
  const probed: string[] = [];
  const { docker, rt } = setup({
    probe: (port, host) => {
      probed.push(`${host}:${port}`);
      return Promise.resolve(true);
    },
  });
  const w = want();
  w.spec.ports = [{ container: 80, http: true }];
  const realStart = docker.start.bind(docker);
  docker.start = async (id) => {
    await realStart(id);
    docker.containers.get(id)!.ports = { "80": 32768 };
  };
  rt.setWanted([w]);
  await rt.start();
  try {
    await waitFor("ready", () => rt.status()[0]?.ready);
    assert.equal(docker.created[0].hostIp, "10.0.0.1");
    assert.deepEqual([...new Set(probed)], ["10.0.0.1:32768"]);
  } finally {
    await rt.stop();
  }
});

Deno.test("a runtime without an IP address is refused with what to pass", () => {
  for (const address of ["", "node1.local", undefined]) {
    assert.throws(
      () =>
        new Runtime({
          docker: new FakeDocker(),
          nodeId: "n1",
          address: address as string,
          report: () => {},
          forget: () => {},
        }),
      /needs the node's address as an IP literal/,
    );
  }
});

Deno.test("a node id that cannot be part of a container name is refused", () => {
  for (const nodeId of ["", "-n1", "node 1", "n/1"]) {
    assert.throws(
      () =>
        new Runtime({
          docker: new FakeDocker(),
          nodeId,
          address: "10.0.0.1",
          report: () => {},
          forget: () => {},
        }),
      /nodeId of letters, digits/,
      nodeId,
    );
  }
});

Deno.test("a leftover container with this node's labels is adopted on a name conflict", async () => {
  const { docker, rt } = setup();
  // What a crash between create and the next list leaves: our container, not yet seen.
  const name = containerName({ service: "web", replica: 0, generation: 1 }, "n1");
  const id = await docker.create({
    name,
    image: "img:1",
    env: {},
    labels: {},
    ports: [],
    hostIp: "10.0.0.1",
    mounts: [],
  });
  const realCreate = docker.create.bind(docker);
  docker.create = (o) => {
    if (o.name === name) {
      docker.containers.get(id)!.labels = o.labels;
      return Promise.reject(new DockerError("Conflict. The container name is already in use", 409));
    }
    return realCreate(o);
  };
  rt.setWanted([want()]);
  await rt.start();
  try {
    const [s] = await waitFor("running", () => rt.status()[0]?.state === "running" && rt.status());
    assert.equal(s.containerId, id);
    assert.equal(docker.containers.size, 1);
  } finally {
    await rt.stop();
  }
});

Deno.test("a ready replica that stops answering is reported not ready within a probe period or two", async () => {
  let answers = true;
  const { reports, rt } = setup({ readyProbeMs: 20, probe: () => Promise.resolve(answers) });
  const w = want();
  rt.setWanted([{ ...w, spec: { ...w.spec, ports: [{ container: 80, http: true }] } }]);
  await rt.start();
  try {
    await waitFor("ready", () => rt.status()[0]?.ready === true);
    answers = false;
    await waitFor("reported not ready", () => reports.at(-1)?.ready === false);
    answers = true;
    await waitFor("ready again", () => reports.at(-1)?.ready === true);
  } finally {
    await rt.stop();
  }
});

Deno.test("holds says whether a service may still have a container here, until it is forgotten", async () => {
  const { rt } = setup({ readyProbeMs: 0 });
  rt.setWanted([want()]);
  await rt.start();
  try {
    await waitFor("running", () => rt.status()[0]?.state === "running");
    assert.equal(rt.holds("web"), true);
    assert.equal(rt.holds("other"), false);
    rt.setWanted([]);
    assert.equal(rt.holds("web"), true, "unwanted is not gone: its container may still stop");
    await waitFor("forgotten", () => !rt.holds("web"));
  } finally {
    await rt.stop();
  }
});

Deno.test("a replica starts without waiting for its reports, which still arrive in order", async () => {
  const sent: string[] = [];
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  const { docker, rt } = setup({
    // The first report hangs like a write over a slow link.
    report: async (s) => {
      if (sent.length === 0) {
        sent.push(`${s.state} (slow)`);
        await slow;
        return;
      }
      sent.push(s.state);
    },
  });
  rt.setWanted([want()]);
  // The first pass ends only once its reports are in.
  const started = rt.start();
  try {
    await waitFor(
      "the container created while the first report hangs",
      () => docker.containers.size === 1,
    );
    assert.deepEqual(sent, ["pending (slow)"]);
    release();
    await waitFor("running reported after pending", () => sent.includes("running"));
    assert.equal(sent[0], "pending (slow)");
    assert.equal(sent.at(-1), "running");
  } finally {
    release();
    await started;
    await rt.stop();
  }
});
