import assert from "node:assert/strict";
import type { Observed, WantedReplica } from "./labels.ts";
import { freshMemory, type ReplicaMemory } from "./plan.ts";
import { describe, RUNNING_READY_MS, sameStatus } from "./status.ts";

function want(http = true): WantedReplica {
  return {
    service: "web",
    replica: 1,
    generation: 3,
    spec: {
      name: "web",
      image: "img:1",
      replicas: 2,
      ports: [{ container: 80, http }, { container: 9000, http: false, published: 9000 }],
      env: {},
      volumes: [],
      placement: {},
    },
  };
}

function running(over: Partial<Observed> = {}): Observed {
  return {
    id: "c1",
    name: "fossora-web-1-g3",
    labels: {},
    image: "img:1",
    status: "running",
    running: true,
    exitCode: 0,
    error: "",
    startedAt: 1,
    finishedAt: 0,
    ports: { "80": 32768, "9000": 32769, "22": 32770 },
    service: "web",
    replica: 1,
    generation: 3,
    ...over,
  };
}

function mem(over: Partial<ReplicaMemory> = {}): ReplicaMemory {
  return { ...freshMemory(3), ...over };
}

Deno.test("a replica without container or failure is pending", () => {
  const s = describe(want(), undefined, undefined);
  assert.equal(s.state, "pending");
  assert.equal(s.ready, false);
  assert.deepEqual(s.ports, {});
});

Deno.test("a replica whose image is being pulled is pulling", () => {
  assert.equal(describe(want(), undefined, mem({ pulling: true })).state, "pulling");
});

Deno.test("a failed step shows as error with Docker's message", () => {
  const failure = { message: "pull access denied for nope", count: 1, retryAt: 0 };
  const s = describe(want(), undefined, mem({ failure }));
  assert.equal(s.state, "error");
  assert.equal(s.message, "pull access denied for nope");
});

Deno.test("an unreachable engine puts every replica in error", () => {
  const s = describe(want(), running(), mem({ ready: "c1" }), "docker engine unreachable: x");
  assert.equal(s.state, "error");
  assert.equal(s.ready, false);
  assert.equal(s.message, "docker engine unreachable: x");
});

Deno.test("a running container with an unprobed http port is starting, not ready", () => {
  const s = describe(want(), running(), mem());
  assert.equal(s.state, "starting");
  assert.equal(s.ready, false);
  assert.equal(s.containerId, "c1");
});

Deno.test("a running container whose http port answered is running and ready", () => {
  const s = describe(want(), running(), mem({ ready: "c1", restarts: 2 }));
  assert.equal(s.state, "running");
  assert.equal(s.ready, true);
  assert.equal(s.restarts, 2);
  assert.deepEqual(s.ports, { "80": 32768, "9000": 32769 }, "only the spec's ports");
});

Deno.test("a running container without http port is ready once it has run a few seconds", () => {
  const c = running({ startedAt: 10_000 });
  const early = describe(want(false), c, mem(), undefined, 10_000 + RUNNING_READY_MS - 1);
  assert.equal(early.state, "running");
  assert.equal(early.ready, false, "a container that may be crash-looping is not ready yet");
  const later = describe(want(false), c, mem(), undefined, 10_000 + RUNNING_READY_MS);
  assert.equal(later.ready, true);
});

Deno.test("an exited container reports its exit code", () => {
  const c = running({ status: "exited", running: false, exitCode: 137, ports: {} });
  const s = describe(want(), c, mem({ ready: "c1" }));
  assert.equal(s.state, "exited");
  assert.equal(s.exitCode, 137);
  assert.equal(s.ready, false);
  assert.equal(s.message, "exited with code 137");
});

Deno.test("an exited container that cannot be started again is in error", () => {
  const c = running({ status: "exited", running: false, exitCode: 1 });
  const failure = { message: "port is already allocated", count: 1, retryAt: 0 };
  const s = describe(want(), c, mem({ failure }));
  assert.equal(s.state, "error");
  assert.equal(s.message, "port is already allocated");
});

Deno.test("counters of another generation are not shown", () => {
  const s = describe(want(), undefined, { ...mem({ restarts: 5 }), generation: 2 });
  assert.equal(s.restarts, 0);
});

Deno.test("sameStatus compares every reported field", () => {
  const a = describe(want(), running(), mem({ ready: "c1" }));
  assert.ok(sameStatus(a, { ...a, ports: { ...a.ports } }));
  assert.ok(!sameStatus(a, { ...a, ready: false }));
  assert.ok(!sameStatus(a, { ...a, restarts: 1 }));
  assert.ok(!sameStatus(a, { ...a, containerId: "c2" }));
  assert.ok(!sameStatus(a, { ...a, ports: { "80": 1 } }));
  assert.ok(!sameStatus(a, { ...a, state: "exited", exitCode: 1 }));
  assert.ok(!sameStatus(a, { ...a, message: "x" }));
});

Deno.test("with a health check, a replica is ready only while healthy and its HTTP port answers", () => {
  const health = (status: "starting" | "healthy" | "unhealthy", output = "") =>
    running({ health: { status, output } });
  const probed = mem({ ready: "c1" });
  const starting = describe(want(), health("starting"), probed);
  assert.equal(starting.state, "starting");
  assert.equal(starting.ready, false);
  assert.equal(starting.message, "waiting for its health check to pass");
  const healthy = describe(want(), health("healthy"), probed);
  assert.equal(healthy.state, "running");
  assert.equal(healthy.ready, true);
  // Healthy, but the HTTP port has not answered yet.
  assert.equal(describe(want(), health("healthy"), mem()).ready, false);
  // Without an HTTP port the check alone decides, and running long is not enough.
  assert.equal(describe(want(false), health("healthy"), mem(), undefined, 1e12).ready, true);
  assert.equal(describe(want(false), health("starting"), mem(), undefined, 1e12).ready, false);
  const sick = describe(want(), health("unhealthy", "curl: (7) Failed to connect"), probed);
  assert.equal(sick.state, "error");
  assert.equal(sick.ready, false);
  assert.equal(sick.message, "unhealthy: curl: (7) Failed to connect");
  assert.equal(
    describe(want(), health("unhealthy"), probed).message,
    "unhealthy: its health check failed",
  );
  // Stopped for it, it still says why while it waits to restart.
  const stopped = describe(
    want(),
    running({
      status: "exited",
      running: false,
      exitCode: 137,
      health: { status: "unhealthy", output: "no database" },
    }),
    probed,
  );
  assert.equal(stopped.state, "exited");
  assert.equal(stopped.message, "unhealthy: no database");
});
