import assert from "node:assert/strict";
import type { NodeRecord, ReplicaStatus, ServiceRecord, ServiceSpec } from "../state/types.ts";
import { virtualAddress } from "./address.ts";
import { hostsLines, meshBackends, meshPorts, orderMeshBackends, servicePorts } from "./targets.ts";

function service(name: string, spec: Partial<ServiceSpec> = {}): ServiceRecord {
  return {
    spec: {
      name,
      image: "x",
      replicas: 1,
      ports: [],
      env: {},
      volumes: [],
      placement: {},
      ...(name.includes(".") ? { stack: name.split(".")[1] } : {}),
      ...spec,
    },
    generation: 1,
    createdAt: "",
    updatedAt: "",
  };
}

function replica(service: string, node: string, r: Partial<ReplicaStatus> = {}): ReplicaStatus {
  return {
    service,
    replica: 0,
    node,
    generation: 1,
    state: "running",
    ready: true,
    address: `10.0.0.${node.slice(-1)}`,
    ports: {},
    restarts: 0,
    since: "",
    stackAddress: `172.18.0.${node.slice(-1)}`,
    ...r,
  };
}

const nodes: Record<string, Partial<NodeRecord>> = {
  n1: { address: "10.0.0.1", meshPort: 7441 },
  n2: { address: "10.0.0.2", meshPort: 7441 },
  n3: { address: "10.0.0.3" }, // an agent from before the mesh
};
const node = (id: string) => nodes[id] as NodeRecord | undefined;

Deno.test("a service is reached on its spec's TCP ports and the ports its image exposes, and on its UDP ports", () => {
  const db = service("db.shop", {
    ports: [{ container: 8080, http: true }, {
      container: 53,
      http: false,
      published: 53,
      protocol: "udp",
    }],
  });
  assert.deepEqual(servicePorts(db, [replica("db.shop", "n1", { exposed: [3306, 8080] })]), [
    3306,
    8080,
  ]);
  assert.deepEqual(servicePorts(db, [replica("db.shop", "n1", { exposed: [3306] })], "udp"), [53]);
  assert.deepEqual(servicePorts(service("db.shop"), []), []);
});

Deno.test("a stack's containers get one hosts line per service of their own stack", () => {
  const all = [service("db.shop"), service("web.shop"), service("db.blog"), service("plain")];
  assert.deepEqual(hostsLines(all, "shop"), [
    `db:${virtualAddress("db.shop")}`,
    `web:${virtualAddress("web.shop")}`,
  ]);
  assert.deepEqual(hostsLines(all, "blog"), [`db:${virtualAddress("db.blog")}`]);
});

Deno.test("a service is also reached by its aliases: the compose key that is not a DNS label, network aliases", () => {
  const db = service("db-server.shop", { aliases: ["db_server", "mysql"] });
  assert.deepEqual(hostsLines([db], "shop"), [
    `db-server:${virtualAddress("db-server.shop")}`,
    `db_server:${virtualAddress("db-server.shop")}`,
    `mysql:${virtualAddress("db-server.shop")}`,
  ]);
});

Deno.test("listeners are opened only for the stacks that run here, one per service port and protocol", () => {
  const all = [
    service("db.shop", {
      ports: [{ container: 5432, http: false }, { container: 514, http: false, protocol: "udp" }],
    }),
    service("db.blog"),
    service("plain", { ports: [{ container: 80, http: true }] }),
  ];
  const replicas = (s: string) => s === "db.blog" ? [replica(s, "n2", { exposed: [3306] })] : [];
  const shop = virtualAddress("db.shop");
  assert.deepEqual(meshPorts(all, replicas, new Set(["shop", "blog"])), [
    { stack: "shop", service: "db.shop", address: shop, port: 5432, protocol: "tcp" },
    { stack: "shop", service: "db.shop", address: shop, port: 514, protocol: "udp" },
    {
      stack: "blog",
      service: "db.blog",
      address: virtualAddress("db.blog"),
      port: 3306,
      protocol: "tcp",
    },
  ]);
  assert.deepEqual(meshPorts(all, replicas, new Set(["blog"])).map((p) => p.service), ["db.blog"]);
});

Deno.test("a local replica is dialled at its container, a remote one through its node's tunnel", () => {
  const rs = [
    replica("db.s", "n1"),
    replica("db.s", "n2", { replica: 1 }),
    replica("db.s", "n3", { replica: 2 }), // no tunnel there
    replica("db.s", "n2", { replica: 3, ready: false }),
    replica("db.s", "n2", { replica: 4, stackAddress: undefined }),
  ];
  const b = meshBackends(rs, 3306, "n1", node);
  assert.deepEqual(b.map((x) => [x.local, x.host, x.port, x.container]), [
    [true, "172.18.0.1", 3306, "172.18.0.1"],
    [false, "10.0.0.2", 7441, "172.18.0.2"],
  ]);
});

Deno.test("the forwarder tries this node's replicas first, round-robin, and those that failed last", () => {
  const rs = [
    replica("db.s", "n2", { replica: 0, stackAddress: "172.18.0.20" }),
    replica("db.s", "n1", { replica: 1, stackAddress: "172.18.0.11" }),
    replica("db.s", "n1", { replica: 2, stackAddress: "172.18.0.12" }),
  ];
  const b = meshBackends(rs, 80, "n1", node);
  const order = (start: number, out: string[] = []) =>
    orderMeshBackends(b, start, (x) => out.includes(x.container)).map((x) => x.container);
  assert.deepEqual(order(0), ["172.18.0.11", "172.18.0.12", "172.18.0.20"]);
  assert.deepEqual(order(1), ["172.18.0.12", "172.18.0.11", "172.18.0.20"]);
  assert.deepEqual(order(0, ["172.18.0.11"]), ["172.18.0.12", "172.18.0.20", "172.18.0.11"]);
  // Every one failed: all are still tried.
  assert.deepEqual(order(0, ["172.18.0.11", "172.18.0.12", "172.18.0.20"]).length, 3);
  assert.deepEqual(orderMeshBackends([], 0, () => false), []);
});
