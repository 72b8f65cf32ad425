import assert from "node:assert/strict";
import {
  BENCH_SERVICE,
  nodeAddress,
  notReady,
  serviceFile,
  SERVICES,
  WS_SERVICE,
} from "./cluster.ts";
import { BENCH_IMAGE, BUSYBOX_IMAGE, DENO_IMAGE, ECHO_SERVER } from "./images.ts";

Deno.test("the cluster has 20 services: the two backends and idle busybox ones, names unique", () => {
  const file = serviceFile();
  assert.equal(SERVICES, 20);
  assert.equal(file.length, 20);
  assert.equal(new Set(file.map((s) => s.name)).size, 20);
  assert.deepEqual(file[0], {
    name: BENCH_SERVICE,
    image: BENCH_IMAGE,
    ports: [{ container: 80, http: true }],
  });
  assert.equal(file[1].name, WS_SERVICE);
  assert.equal(file[1].image, DENO_IMAGE);
  assert.deepEqual(file[1].command, ["eval", ECHO_SERVER]);
  assert.ok(file.slice(2).every((s) => s.image === BUSYBOX_IMAGE && /^idle-\d\d$/.test(s.name)));
  assert.ok(file.every((s) => s.ports.length === 1 && s.ports[0].http));
});

Deno.test("a service is ready when all its wanted replicas are", () => {
  const rows = [
    { name: "a", replicas: 1, ready: 1 },
    { name: "b", replicas: 2, ready: 1 },
    { name: "c", replicas: 0, ready: 0 },
  ];
  assert.deepEqual(notReady(rows, ["a", "b", "c", "d"]), ["b", "c", "d"]);
  assert.deepEqual(notReady(rows, ["a"]), []);
});

Deno.test("replicas are reached at the machine's own IPv4 address, not loopback or Docker's", () => {
  const lo = { name: "lo", family: "IPv4", address: "127.0.0.1" };
  const docker0 = { name: "docker0", family: "IPv4", address: "172.17.0.1" };
  const v6 = { name: "eth0", family: "IPv6", address: "fe80::1" };
  const eth0 = { name: "eth0", family: "IPv4", address: "192.0.2.2" };
  assert.equal(nodeAddress([lo, docker0, v6, eth0]), "192.0.2.2");
  assert.equal(nodeAddress([lo, docker0, { ...docker0, name: "br-1a2b" }, v6]), "127.0.0.1");
});
