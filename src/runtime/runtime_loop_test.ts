/**
 * The loop's own behaviour (event reconnects, an engine going down and up, failed reports,
 * bad input) against an in-memory engine, with timers that run fast but record their delays.
 */
import assert from "node:assert/strict";
import type { ReplicaStatus } from "../state/types.ts";
import type { ContainerState, CreateOptions, DockerApi, DockerEvent } from "./docker.ts";
import { DockerError } from "./docker.ts";
import type { WantedReplica } from "./labels.ts";
import { Runtime, type RuntimeOptions, type TimerId } from "./runtime.ts";

/** An engine in memory: containers run when started and stay up until stopped. */
class FakeDocker implements DockerApi {
  containers = new Map<string, ContainerState>();
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
  pull(): Promise<void> {
    return Promise.resolve();
  }
  ensureVolume(): Promise<void> {
    return Promise.resolve();
  }
  create(o: CreateOptions): Promise<string> {
    this.#check();
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
      ports: {},
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
  const { docker, delays, rt } = setup();
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

Deno.test("bad wanted replicas are refused with every problem and change nothing", async () => {
  const { docker, rt } = setup();
  rt.setWanted([want()]);
  const bad = [
    { ...want(), service: "Bad_Name" },
    { ...want(1), generation: 0 },
    want(0),
  ] as WantedReplica[];
  assert.throws(() => rt.setWanted(bad), (err: Error) => {
    assert.ok(err instanceof RangeError);
    assert.match(err.message, /wanted\[0\]\.service: must be a DNS label/);
    assert.match(err.message, /wanted\[1\]\.generation/);
    return true;
  });
  assert.throws(() => rt.setWanted([want(), want()]), /listed twice/);
  await rt.start();
  try {
    await waitFor("running", () => rt.status()[0]?.state === "running");
    assert.equal(rt.status().length, 1);
    assert.equal(docker.containers.size, 1);
  } finally {
    await rt.stop();
  }
});

Deno.test("a leftover container with this node's labels is adopted on a name conflict", async () => {
  const { docker, rt } = setup();
  // What a crash between create and the next list leaves: our container, not yet seen.
  const id = await docker.create({
    name: "fossora-web-0-g1",
    image: "img:1",
    env: {},
    labels: {},
    ports: [],
    mounts: [],
  });
  const realCreate = docker.create.bind(docker);
  docker.create = (o) => {
    if (o.name === "fossora-web-0-g1") {
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
