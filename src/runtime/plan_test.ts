import assert from "node:assert/strict";
import type { ServiceSpec } from "../state/types.ts";
import type { Observed, WantedReplica } from "./labels.ts";
import {
  type Action,
  backoff,
  freshMemory,
  observe,
  pickContainer,
  plan,
  type PlanInput,
  type ReplicaMemory,
} from "./plan.ts";

const T0 = 1_700_000_000_000;

function spec(over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: "web",
    image: "img:1",
    replicas: 1,
    ports: [{ container: 80, http: true }],
    env: {},
    volumes: [],
    placement: {},
    ...over,
  };
}

function want(replica = 0, generation = 1, service = "web"): WantedReplica {
  return { service, replica, generation, spec: spec({ name: service }) };
}

function container(over: Partial<Observed> = {}): Observed {
  return {
    id: "c1",
    name: "fossora-web-0-g1",
    labels: {},
    image: "img:1",
    status: "running",
    running: true,
    exitCode: 0,
    error: "",
    startedAt: T0 - 60_000,
    finishedAt: 0,
    ports: { "80": 32768 },
    service: "web",
    replica: 0,
    generation: 1,
    ...over,
  };
}

function exited(over: Partial<Observed> = {}): Observed {
  return container({
    status: "exited",
    running: false,
    exitCode: 137,
    startedAt: T0 - 5_000,
    finishedAt: T0,
    ports: {},
    ...over,
  });
}

function mem(over: Partial<ReplicaMemory> = {}): ReplicaMemory {
  return { ...freshMemory(1), ...over };
}

function input(over: Partial<PlanInput>): PlanInput {
  return { wanted: [], actual: [], memory: new Map(), now: T0, ...over };
}

function kinds(actions: Action[]): string[] {
  return actions.map((a) => `${a.kind} ${a.key}${"container" in a ? " " + a.container : ""}`);
}

Deno.test("backoff doubles from one second and caps at thirty", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 40].map(backoff), [
    1000,
    2000,
    4000,
    8000,
    16000,
    30000,
    30000,
    30000,
  ]);
});

Deno.test("a missing replica is created", () => {
  const w = want();
  const p = plan(input({ wanted: [w] }));
  assert.deepEqual(p.actions, [{ kind: "create", key: "web/0", wanted: w }]);
  assert.equal(p.wakeAt, undefined);
});

Deno.test("a running container of the wanted generation needs nothing", () => {
  const p = plan(input({ wanted: [want()], actual: [container()] }));
  assert.deepEqual(p.actions, []);
});

Deno.test("every missing replica of several services is created", () => {
  const p = plan(input({
    wanted: [want(0), want(1), want(0, 1, "db")],
    actual: [container()],
  }));
  assert.deepEqual(kinds(p.actions), ["create web/1", "create db/0"]);
});

Deno.test("a container of another generation is removed before the new one is created", () => {
  const p = plan(input({ wanted: [want(0, 2)], actual: [container({ generation: 1 })] }));
  assert.deepEqual(kinds(p.actions), ["remove web/0 c1"]);
  const reason = (p.actions[0] as Extract<Action, { kind: "remove" }>).reason;
  assert.match(reason, /generation 1 replaced by 2/);
  const after = plan(input({ wanted: [want(0, 2)], actual: [] }));
  assert.deepEqual(kinds(after.actions), ["create web/0"]);
});

Deno.test("old generation is removed while the new generation container is kept", () => {
  const p = plan(input({
    wanted: [want(0, 2)],
    actual: [container({ id: "old", generation: 1 }), container({ id: "new", generation: 2 })],
  }));
  assert.deepEqual(kinds(p.actions), ["remove web/0 old"]);
});

Deno.test("a duplicate of the same generation is removed and the running one kept", () => {
  const p = plan(input({
    wanted: [want()],
    actual: [exited({ id: "a" }), container({ id: "b" })],
  }));
  assert.deepEqual(kinds(p.actions), ["remove web/0 a"]);
});

Deno.test("a dead container is removed and recreated on the next pass", () => {
  const p = plan(
    input({ wanted: [want()], actual: [container({ status: "dead", running: false })] }),
  );
  assert.deepEqual(kinds(p.actions), ["remove web/0 c1"]);
});

Deno.test("a container no longer wanted is removed, then the replica is forgotten", () => {
  const memory = new Map([["web/0", mem()]]);
  const p = plan(input({ actual: [container()], memory }));
  assert.deepEqual(kinds(p.actions), ["remove web/0 c1"]);
  const after = plan(input({ actual: [], memory }));
  assert.deepEqual(after.actions, [{ kind: "forget", key: "web/0", service: "web", replica: 0 }]);
});

Deno.test("a container's own stop grace period goes with its remove and stop steps", () => {
  const gone = plan(input({ actual: [container({ stopTimeout: 45 })] })).actions;
  assert.deepEqual(gone.map((a) => "grace" in a && a.grace), [45]);
  const old = plan(input({
    wanted: [want(0, 2)],
    actual: [container({ stopTimeout: 7 })],
    memory: new Map([["web/0", mem({ generation: 2 })]]),
  })).actions;
  assert.deepEqual(old.map((a) => `${a.kind} ${"grace" in a ? a.grace : "-"}`), ["remove 7"]);
  const sick = plan(input({
    wanted: [want()],
    actual: [container({ health: { status: "unhealthy", output: "" }, stopTimeout: 3 })],
    memory: new Map([["web/0", mem()]]),
  })).actions;
  assert.deepEqual(sick.map((a) => `${a.kind} ${"grace" in a ? a.grace : "-"}`), ["stop 3"]);
  // Without its own, the step carries none: the runtime's default applies.
  const plain = plan(input({ actual: [container()] })).actions;
  assert.equal("grace" in plain[0], false);
});

Deno.test("a service name with dashes is forgotten under its full name", () => {
  const memory = new Map([["my-app/12", mem()]]);
  const p = plan(input({ memory }));
  assert.deepEqual(p.actions, [{
    kind: "forget",
    key: "my-app/12",
    service: "my-app",
    replica: 12,
  }]);
});

Deno.test("a replica never seen and not wanted is neither removed nor forgotten", () => {
  assert.deepEqual(plan(input({})).actions, []);
});

Deno.test("a created but never started container is started", () => {
  const p = plan(input({
    wanted: [want()],
    actual: [container({ status: "created", running: false, startedAt: 0 })],
  }));
  assert.deepEqual(p.actions, [{
    kind: "start",
    key: "web/0",
    container: "c1",
    restart: false,
    crashes: 0,
  }]);
});

Deno.test("an exited container waits one second before its first restart", () => {
  const memory = observe(input({ wanted: [want()], actual: [exited()], now: T0 + 100 }));
  const early = plan(input({ wanted: [want()], actual: [exited()], memory, now: T0 + 500 }));
  assert.deepEqual(early.actions, []);
  assert.equal(early.wakeAt, T0 + 1_100);
  const due = plan(input({ wanted: [want()], actual: [exited()], memory, now: T0 + 1_100 }));
  assert.deepEqual(due.actions, [{
    kind: "start",
    key: "web/0",
    container: "c1",
    restart: true,
    crashes: 1,
  }]);
});

Deno.test("repeated quick exits back off exponentially up to thirty seconds", () => {
  for (const [crashes, delay] of [[1, 2000], [3, 8000], [5, 30000], [9, 30000]]) {
    const memory = new Map([[
      "web/0",
      mem({
        crashes,
        exit: { container: "c1", finishedAt: T0, seenAt: T0 },
      }),
    ]]);
    const p = plan(input({ wanted: [want()], actual: [exited()], memory, now: T0 }));
    assert.deepEqual(p.actions, [], `crashes=${crashes}`);
    assert.equal(p.wakeAt, T0 + delay, `crashes=${crashes}`);
    const due = plan(input({ wanted: [want()], actual: [exited()], memory, now: T0 + delay }));
    assert.equal(due.actions.length, 1);
    assert.equal((due.actions[0] as Extract<Action, { kind: "start" }>).crashes, crashes + 1);
  }
});

Deno.test("a container that ran thirty seconds restarts after one second again", () => {
  const memory = new Map([[
    "web/0",
    mem({
      crashes: 6,
      exit: { container: "c1", finishedAt: T0, seenAt: T0 },
    }),
  ]]);
  const long = exited({ startedAt: T0 - 31_000 });
  const p = plan(input({ wanted: [want()], actual: [long], memory, now: T0 + 1_000 }));
  assert.deepEqual(p.actions, [{
    kind: "start",
    key: "web/0",
    container: "c1",
    restart: true,
    crashes: 1,
  }]);
});

Deno.test("a failed step blocks every step of the replica until its retry time", () => {
  const failure = { message: "pull access denied", count: 2, retryAt: T0 + 2_000 };
  const memory = new Map([["web/0", mem({ failure })]]);
  const p = plan(input({ wanted: [want()], memory }));
  assert.deepEqual(p.actions, []);
  assert.equal(p.wakeAt, T0 + 2_000);
  const later = plan(input({ wanted: [want()], memory, now: T0 + 2_000 }));
  assert.deepEqual(kinds(later.actions), ["create web/0"]);
  const created = container({ status: "created", running: false });
  const blocked = plan(input({ wanted: [want()], actual: [created], memory }));
  assert.deepEqual(blocked.actions, []);
});

Deno.test("a failed removal of an unwanted container waits before retrying", () => {
  const failure = { message: "docker stop: timeout", count: 1, retryAt: T0 + 1_000 };
  const memory = new Map([["web/0", mem({ failure })]]);
  const p = plan(input({ actual: [container()], memory }));
  assert.deepEqual(p.actions, []);
  assert.equal(p.wakeAt, T0 + 1_000);
  const forgetLater = plan(input({ memory }));
  assert.deepEqual(forgetLater.actions, []);
  assert.equal(forgetLater.wakeAt, T0 + 1_000);
});

Deno.test("the earliest due time among replicas is the wake time", () => {
  const memory = new Map([
    ["web/0", mem({ exit: { container: "c1", finishedAt: T0, seenAt: T0 }, crashes: 2 })],
    ["web/1", mem({ failure: { message: "x", count: 1, retryAt: T0 + 1_500 } })],
  ]);
  const p = plan(input({ wanted: [want(0), want(1)], actual: [exited()], memory }));
  assert.deepEqual(p.actions, []);
  assert.equal(p.wakeAt, T0 + 1_500);
});

Deno.test("containers of a paused or removing state are left alone", () => {
  for (const status of ["paused", "restarting"]) {
    const p = plan(input({ wanted: [want()], actual: [container({ status, running: true })] }));
    assert.deepEqual(p.actions, [], status);
  }
});

Deno.test("pickContainer prefers the running container of the wanted generation", () => {
  const c = pickContainer(want(0, 2), [
    container({ id: "g1", generation: 1 }),
    exited({ id: "x", generation: 2 }),
    container({ id: "r", generation: 2 }),
  ]);
  assert.equal(c?.id, "r");
  assert.equal(pickContainer(want(0, 3), [container()]), undefined);
});

Deno.test("observe records a new exit once, on our clock", () => {
  const first = observe(input({ wanted: [want()], actual: [exited()], now: T0 + 10 }));
  assert.deepEqual(first.get("web/0")?.exit, { container: "c1", finishedAt: T0, seenAt: T0 + 10 });
  const again = observe(input({
    wanted: [want()],
    actual: [exited()],
    memory: first,
    now: T0 + 999,
  }));
  assert.equal(again.get("web/0")?.exit?.seenAt, T0 + 10);
  const next = observe(input({
    wanted: [want()],
    actual: [exited({ finishedAt: T0 + 5_000 })],
    memory: again,
    now: T0 + 5_001,
  }));
  assert.equal(next.get("web/0")?.exit?.seenAt, T0 + 5_001);
});

Deno.test("observe starts counters afresh for a new generation", () => {
  const memory = new Map([["web/0", mem({ restarts: 4, crashes: 3, ready: "c1" })]]);
  const out = observe(input({ wanted: [want(0, 2)], memory }));
  assert.deepEqual(out.get("web/0"), freshMemory(2));
  assert.equal(memory.get("web/0")?.restarts, 4, "input memory is not changed");
});

Deno.test("observe drops readiness that belonged to another container", () => {
  const memory = new Map([["web/0", mem({ ready: "old" })]]);
  const out = observe(input({ wanted: [want()], actual: [container({ id: "new" })], memory }));
  assert.equal(out.get("web/0")?.ready, undefined);
  const kept = observe(
    input({
      wanted: [want()],
      actual: [container()],
      memory: new Map([["web/0", mem({ ready: "c1" })]]),
    }),
  );
  assert.equal(kept.get("web/0")?.ready, "c1");
});

Deno.test("observe remembers unwanted containers so they are forgotten after removal", () => {
  const out = observe(
    input({ actual: [container({ service: "old", replica: 3, generation: 7 })] }),
  );
  assert.deepEqual(out.get("old/3"), freshMemory(7));
  const p = plan(input({ memory: out }));
  assert.deepEqual(kinds(p.actions), ["forget old/3"]);
});

Deno.test("an unhealthy container is stopped, saying why, and then restarts as an exited one", () => {
  const sick = container({ health: { status: "unhealthy", output: "no database" } });
  const p = plan(input({ wanted: [want()], actual: [sick] }));
  assert.deepEqual(p.actions, [{
    kind: "stop",
    key: "web/0",
    container: "c1",
    reason: "no database",
  }]);
  // Starting or healthy ones are left alone.
  for (const status of ["starting", "healthy"] as const) {
    const c = container({ health: { status, output: "" } });
    assert.deepEqual(plan(input({ wanted: [want()], actual: [c] })).actions, []);
  }
  // Once stopped it is an exited container: restarted with the usual backoff.
  const stopped = exited({ health: { status: "unhealthy", output: "no database" } });
  const memory = observe(input({ wanted: [want()], actual: [stopped], now: T0 }));
  assert.deepEqual(plan(input({ wanted: [want()], actual: [stopped], memory })).actions, []);
  const due = plan(input({ wanted: [want()], actual: [stopped], memory, now: T0 + 1_000 }));
  assert.deepEqual(kinds(due.actions), ["start web/0 c1"]);
});
