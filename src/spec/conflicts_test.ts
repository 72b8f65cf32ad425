import assert from "node:assert/strict";
import type { ServiceRecord, ServiceSpec } from "../state/types.ts";
import { hostPortConflicts, publishedPortConflicts } from "./conflicts.ts";

function spec(name: string, published?: number): ServiceSpec {
  return {
    name,
    image: "i",
    replicas: 1,
    ports: published ? [{ container: 25565, http: false, published }] : [],
    env: {},
    volumes: [],
    placement: {},
  };
}
const record = (s: ServiceSpec): ServiceRecord => ({
  spec: s,
  generation: 1,
  createdAt: "",
  updatedAt: "",
});
const reserved = new Map([[80, "proxy"], [53, "DNS"]]);

Deno.test("a port another service publishes is refused, naming that service", () => {
  const problems = publishedPortConflicts([spec("b", 25565)], [record(spec("a", 25565))], reserved);
  assert.deepEqual(problems, [{
    path: "ports[0].published",
    message: "port 25565 is already published by service a; pick another port",
  }]);
});

Deno.test("a service may keep its own published port when it is updated", () => {
  assert.deepEqual(
    publishedPortConflicts([spec("a", 25565)], [record(spec("a", 25565))], reserved),
    [],
  );
});

Deno.test("the agent's own ports cannot be published", () => {
  const problems = publishedPortConflicts([spec("x"), spec("web", 80)], [], reserved);
  assert.deepEqual(problems.map((p) => p.path), ["[1].ports[0].published"]);
  assert.match(problems[0].message, /agent's proxy port/);
});

Deno.test("TCP and UDP ports of one number are two ports; a UDP port the agent uses is refused", () => {
  const udp = (name: string, published: number): ServiceSpec => ({
    ...spec(name),
    ports: [{ container: 53, http: false, published, protocol: "udp" }],
  });
  const reservedUdp = new Map([[53, "DNS"]]);
  assert.deepEqual(
    publishedPortConflicts([udp("dns", 25565)], [record(spec("a", 25565))], reserved, reservedUdp),
    [],
  );
  assert.deepEqual(
    publishedPortConflicts([udp("dns", 5353)], [record(udp("m", 5353))], reserved, reservedUdp),
    [{
      path: "ports[0].published",
      message: "UDP port 5353 is already published by service m; pick another port",
    }],
  );
  assert.deepEqual(publishedPortConflicts([udp("dns", 53)], [], reserved, reservedUdp), [{
    path: "ports[0].published",
    message: "UDP port 53 is the agent's DNS port; pick another port",
  }]);
});

const hostNet = (name: string, container: number, protocol?: "udp"): ServiceSpec => ({
  ...spec(name),
  hostNetwork: true,
  ports: [{ container, http: false, ...(protocol ? { protocol } : {}) }],
});

Deno.test("a host-network port that is fossora's own is refused, saying what to do", () => {
  const problems = hostPortConflicts([hostNet("pihole", 53, "udp")], [], reserved, reserved);
  assert.deepEqual(problems, [{
    path: "ports[0].container",
    message: "UDP port 53 is fossora's DNS port on every node, so a container in the node's " +
      "network cannot listen on it: have the program listen on another port and list that " +
      "one, or move fossora's DNS (--dns-port) on every node",
  }]);
  // Without host networking the container's port is its own.
  assert.deepEqual(
    hostPortConflicts([{ ...hostNet("a", 53), hostNetwork: undefined }], [], reserved),
    [],
  );
});

Deno.test("a host-network port the routing mesh publishes is refused, naming the publisher", () => {
  const problems = hostPortConflicts([hostNet("b", 25565)], [record(spec("a", 25565))], reserved);
  assert.equal(problems.length, 1);
  assert.equal(problems[0].path, "ports[0].container");
  assert.match(problems[0].message, /^port 25565 is published by service a, and the routing mesh/);
  // Its own other port, published as that number, is no better.
  const own: ServiceSpec = {
    ...hostNet("c", 8080),
    ports: [{ container: 8080, http: false }, { container: 80, http: true, published: 8080 }],
  };
  assert.match(hostPortConflicts([own], [], reserved)[0]?.message ?? "", /published by service c/);
});

Deno.test("a published port a host-network service listens on is refused", () => {
  const problems = hostPortConflicts([spec("b", 9000)], [record(hostNet("a", 9000))], reserved);
  assert.deepEqual(problems, [{
    path: "ports[0].published",
    message: "port 9000 is taken by service a, which runs in its nodes' network (host " +
      "networking) and listens on it; pick another port",
  }]);
  // Redeploying the host-network service itself is no conflict.
  assert.deepEqual(
    hostPortConflicts([hostNet("a", 9000)], [record(hostNet("a", 9000))], reserved),
    [],
  );
});
