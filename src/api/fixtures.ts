/**
 * Test values for the API's tests: a small cluster in a `MemoryView`, an in-memory
 * `ServiceStore` that writes into it, and the rest of `createApi`'s deps. Not part of the public
 * face.
 * @module
 */
import { Registry } from "../metrics/mod.ts";
import { parseServiceFile, type StackFiles } from "../spec/mod.ts";
import type { ApplyResult } from "../state/mod.ts";
import type { NodeRecord, ReplicaStatus, ServiceSpec } from "../state/types.ts";
import { MemoryView } from "../state/view.ts";
import { silentLogger } from "../util/log.ts";
import type { ApiDeps, ServiceStore } from "./types.ts";

const T0 = "2025-01-01T00:00:00.000Z";

/** A node record with defaults. */
export function node(id: string, name: string, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    name,
    address: `10.0.0.${id.replace(/\D/g, "") || "1"}`,
    arch: "arm64",
    site: "default",
    labels: {},
    role: "voter",
    state: "ready",
    version: "0.1.0",
    apiPort: 7440,
    httpPort: 80,
    dnsPort: 53,
    startedAt: T0,
    lastSeen: T0,
    ...extra,
  };
}

/** A service spec with defaults. */
export function spec(name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    image: `example/${name}:1`,
    replicas: 1,
    ports: [],
    env: {},
    volumes: [],
    placement: {},
    ...extra,
  };
}

/** A replica status with defaults. */
export function replica(
  service: string,
  index: number,
  nodeId: string,
  extra: Partial<ReplicaStatus> = {},
): ReplicaStatus {
  return {
    service,
    replica: index,
    node: nodeId,
    generation: 1,
    state: "running",
    ready: true,
    containerId: `c-${service}-${index}`,
    address: "10.0.0.1",
    ports: {},
    restarts: 0,
    since: T0,
    ...extra,
  };
}

/**
 * Two nodes; `whoami` (HTTP, two replicas, one per node) and `mc` (published 25565, one replica
 * that exited).
 */
export function sampleView(): MemoryView {
  const view = new MemoryView();
  view.info = { id: "cluster-1", createdAt: T0, domain: "home.test" };
  view.nodeMap.set("n1", node("n1", "pi-a"));
  view.nodeMap.set("n2", node("n2", "pi-b", { role: "learner", arch: "amd64" }));
  const whoami = spec("whoami", { replicas: 2, ports: [{ container: 8080, http: true }] });
  const mc = spec("mc", { ports: [{ container: 25565, http: false, published: 25565 }] });
  for (const s of [whoami, mc]) {
    view.serviceMap.set(s.name, { spec: s, generation: 1, createdAt: T0, updatedAt: T0 });
  }
  view.putReplica(replica("whoami", 0, "n1"));
  view.putReplica(replica("whoami", 1, "n2"));
  view.putReplica(
    replica("mc", 0, "n2", { state: "exited", ready: false, exitCode: 1, message: "boom" }),
  );
  return view;
}

/** A `ServiceStore` that writes into a `MemoryView`, and counts its writes. */
export class MemoryStore implements ServiceStore {
  writes = 0;
  constructor(readonly view: MemoryView) {}

  apply(specs: ServiceSpec[]): Promise<ApplyResult[]> {
    this.writes++;
    return Promise.resolve(specs.map((s) => {
      const old = this.view.serviceMap.get(s.name);
      const changed = !old || JSON.stringify(old.spec) !== JSON.stringify(s);
      const generation = old ? old.generation + (changed ? 1 : 0) : 1;
      this.view.serviceMap.set(s.name, {
        spec: s,
        generation,
        createdAt: old?.createdAt ?? T0,
        updatedAt: T0,
      });
      return { name: s.name, generation, created: !old, changed };
    }));
  }

  restart(name: string): Promise<boolean> {
    this.writes++;
    const old = this.view.serviceMap.get(name);
    if (old) this.view.serviceMap.set(name, { ...old, generation: old.generation + 1 });
    return Promise.resolve(old !== undefined);
  }

  remove(name: string): Promise<boolean> {
    this.writes++;
    return Promise.resolve(this.view.serviceMap.delete(name));
  }

  /** Stack files written, by stack; secrets included, to check they never reach an answer. */
  readonly stackFiles = new Map<string, StackFiles["files"]>();

  async applyStack(
    stack: StackFiles,
    specs: ServiceSpec[],
  ): Promise<{ services: ApplyResult[]; removed: string[] }> {
    const removed = [...this.view.serviceMap.values()]
      .filter((r) => r.spec.stack === stack.name && !specs.some((s) => s.name === r.spec.name))
      .map((r) => r.spec.name);
    for (const name of removed) this.view.serviceMap.delete(name);
    this.stackFiles.set(stack.name, stack.files);
    return { services: await this.apply(specs), removed };
  }

  removeStack(name: string): Promise<string[]> {
    this.writes++;
    const names = [...this.view.serviceMap.values()].filter((r) => r.spec.stack === name)
      .map((r) => r.spec.name);
    for (const n of names) this.view.serviceMap.delete(n);
    this.stackFiles.delete(name);
    return Promise.resolve(names);
  }
}

/**
 * Everything `createApi` needs, over `view` with a `MemoryStore`, as node `n1` (`pi-a`) with
 * admin token `t`; `overrides` replace any part. Logs fail unless the test gives its own.
 */
export function testDeps(view: MemoryView, overrides: Partial<ApiDeps> = {}): ApiDeps {
  return {
    view,
    services: new MemoryStore(view),
    adminToken: "t",
    nodeId: "n1",
    nodeName: "pi-a",
    domain: "home.test",
    ready: () => true,
    leader: () => undefined,
    etcdHealthy: () => true,
    joinToken: () => Promise.resolve("j"),
    logs: () => Promise.reject(new Error("this test reads no logs")),
    metrics: new Registry(),
    version: "0",
    parseServiceFile,
    logger: silentLogger,
    ...overrides,
  };
}
