import assert from "node:assert/strict";
import { dependencyWait } from "./depends.ts";
import type { ReplicaStatus, ServiceSpec } from "../state/types.ts";

const spec: ServiceSpec = {
  name: "app.cloud",
  image: "nextcloud",
  replicas: 1,
  ports: [],
  env: {},
  volumes: [],
  placement: {},
  stack: "cloud",
  dependsOn: [
    { service: "db_server", condition: "healthy" },
    { service: "init", condition: "completed" },
    { service: "redis", condition: "started" },
  ],
};

function status(service: string, extra: Partial<ReplicaStatus>): ReplicaStatus {
  return {
    service,
    replica: 0,
    node: "n1",
    generation: 1,
    state: "running",
    ready: false,
    address: "10.0.0.1",
    ports: {},
    restarts: 0,
    since: "2026-12-03T00:00:00Z",
    ...extra,
  };
}

Deno.test("a stack service waits for each dependency's condition, by the dependency's compose name", () => {
  const replicas = new Map<string, ReplicaStatus[]>();
  const view = { replicasOf: (name: string) => replicas.get(name) ?? [] };
  assert.equal(dependencyWait(view, spec), "waiting for db_server to be healthy (depends_on)");
  replicas.set("db-server.cloud", [status("db-server.cloud", { ready: false })]);
  assert.match(dependencyWait(view, spec)!, /db_server to be healthy/);
  replicas.set("db-server.cloud", [status("db-server.cloud", { ready: true })]);
  assert.equal(dependencyWait(view, spec), "waiting for init to finish (depends_on)");
  replicas.set("init.cloud", [status("init.cloud", { state: "exited", exitCode: 1 })]);
  assert.match(dependencyWait(view, spec)!, /init to finish/);
  replicas.set("init.cloud", [status("init.cloud", { state: "exited", exitCode: 0 })]);
  assert.equal(dependencyWait(view, spec), "waiting for redis to run (depends_on)");
  replicas.set("redis.cloud", [status("redis.cloud", { state: "running" })]);
  assert.equal(dependencyWait(view, spec), undefined);
  assert.equal(dependencyWait(view, { ...spec, stack: undefined }), undefined);
});
