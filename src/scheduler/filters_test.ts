import assert from "node:assert/strict";
import type { NodeRecord, ServiceSpec } from "../state/types.ts";
import { eligibleNodes, NO_FACTS, type NodeFacts, rejection } from "./filters.ts";
import { agentPorts, HostPorts } from "./host_ports.ts";

function node(id: string, over: Partial<NodeRecord> = {}): NodeRecord {
  return {
    id,
    name: id,
    address: "10.0.0.1",
    arch: "amd64",
    site: "default",
    labels: {},
    role: "voter",
    state: "ready",
    version: "0",
    apiPort: 7440,
    httpPort: 80,
    httpsPort: 443,
    dnsPort: 53,
    startedAt: "",
    lastSeen: "",
    ...over,
  };
}

function spec(name: string, over: Partial<ServiceSpec> = {}): ServiceSpec {
  return { name, image: "i", replicas: 1, ports: [], env: {}, volumes: [], placement: {}, ...over };
}

const media = spec("jellyfin", {
  binds: [{ source: "/srv/media", path: "/media", readOnly: true }],
  devices: [{ host: "/dev/dri" }],
});

Deno.test("a node without a wanted host path is rejected with the path", () => {
  assert.equal(
    rejection(media, node("n2", { hostPaths: { "/srv/media": "missing", "/dev/dri": "dir" } })),
    "n2 has no /srv/media",
  );
  assert.equal(
    rejection(media, node("n1", { hostPaths: { "/srv/media": "dir", "/dev/dri": "dir" } })),
    undefined,
  );
});

Deno.test("a node that has not checked a wanted path yet is rejected as not reported", () => {
  assert.equal(rejection(media, node("n3")), "n3 has not reported /srv/media yet");
  assert.equal(
    rejection(media, node("n3", { hostPaths: { "/srv/media": "dir" } })),
    "n3 has not reported /dev/dri yet",
  );
});

Deno.test("a device must be a device (or a directory of them); a bind may be a file", () => {
  const both = { "/srv/media": "file" as const };
  assert.equal(
    rejection(media, node("n1", { hostPaths: { ...both, "/dev/dri": "missing" } })),
    "n1 has no /dev/dri",
  );
  assert.equal(
    rejection(media, node("n1", { hostPaths: { ...both, "/dev/dri": "file" } })),
    "n1 has /dev/dri, but it is not a device",
  );
  assert.equal(
    rejection(media, node("n1", { hostPaths: { ...both, "/dev/dri": "device" } })),
    undefined,
  );
});

Deno.test("no node with the host paths: the explanation names them and what to do", () => {
  const r = eligibleNodes(media, [
    node("n1"),
    node("n2", { hostPaths: { "/srv/media": "missing" } }),
  ]);
  assert.deepEqual(r.nodes, []);
  assert.equal(
    r.reason,
    "no ready node has /srv/media and /dev/dri; make it there (mount the disk, plug the device " +
      "in) or change the service's binds and devices",
  );
});

function hostFacts(ports: HostPorts): NodeFacts {
  return {
    ...NO_FACTS,
    portHolder: (n, key, service) => ports.holder(n, key, service),
    runsReplica: (n, service) => ports.runs(n.id, service),
  };
}

const pihole = spec("pihole", {
  hostNetwork: true,
  ports: [{ container: 8053, http: false, protocol: "udp", published: undefined }, {
    container: 8080,
    http: true,
  }],
});

Deno.test("host networking: one replica a node", () => {
  const ports = new HostPorts([pihole], [{ service: "pihole", node: "n1" }]);
  assert.equal(
    rejection(pihole, node("n1"), hostFacts(ports)),
    "n1 runs a replica already (host networking runs one a node)",
  );
  assert.equal(rejection(pihole, node("n2"), hostFacts(ports)), undefined);
});

Deno.test("host networking: a port another host-network service holds on the node", () => {
  const other = spec("web", { hostNetwork: true, ports: [{ container: 8080, http: true }] });
  const ports = new HostPorts([pihole, other], [{ service: "web", node: "n1" }]);
  assert.equal(
    rejection(pihole, node("n1"), hostFacts(ports)),
    "n1's port 8080 is taken by service web (host networking)",
  );
  // A replica without host networking holds no port of the node.
  const plain = spec("web", { ports: [{ container: 8080, http: true }] });
  const none = new HostPorts([pihole, plain], [{ service: "web", node: "n1" }]);
  assert.equal(rejection(pihole, node("n1"), hostFacts(none)), undefined);
});

Deno.test("host networking: a port the routing mesh publishes on every node", () => {
  const dns = spec("dns", {
    ports: [{ container: 53, http: false, protocol: "udp", published: 8053 }],
  });
  const ports = new HostPorts([pihole, dns], []);
  assert.equal(
    rejection(pihole, node("n1"), hostFacts(ports)),
    "n1's UDP port 8053 is taken by the routing mesh (published by service dns)",
  );
});

Deno.test("host networking: fossora's own ports, from the node's and its member's records", () => {
  const web = spec("web", { hostNetwork: true, ports: [{ container: 80, http: true }] });
  const ports = new HostPorts([web], []);
  assert.equal(
    rejection(web, node("n1"), hostFacts(ports)),
    "n1's port 80 is taken by fossora's proxy",
  );
  assert.equal(rejection(web, node("n2", { httpPort: 8000 }), hostFacts(ports)), undefined);
  const etcd = spec("etcd", { hostNetwork: true, ports: [{ container: 2380, http: false }] });
  const member = {
    id: "n1",
    name: "n1",
    address: "10.0.0.1",
    site: "default",
    arch: "amd64",
    apiPort: 7440,
    etcdPeerPort: 2380,
    etcdClientPort: 2379,
    role: "voter" as const,
    joinedAt: 0,
  };
  const withMember = new HostPorts([etcd], [], [member]);
  assert.equal(
    rejection(etcd, node("n1"), hostFacts(withMember)),
    "n1's port 2380 is taken by fossora's etcd peer",
  );
  assert.deepEqual(
    [...agentPorts(node("n1"), member).keys()].sort(),
    ["2379", "2380", "443", "53", "53/udp", "7440", "7440/udp", "80"],
  );
});

Deno.test("host networking: no node left explains the rule and what to do", () => {
  const ports = new HostPorts([pihole], [{ service: "pihole", node: "n1" }]);
  const r = eligibleNodes(pihole, [node("n1")], hostFacts(ports));
  assert.equal(
    r.reason,
    "host networking runs one replica a node, where UDP port 8053, port 8080 must be free, and " +
      "no other ready node can take one; add a node, or lower replicas",
  );
});

Deno.test("Swarm placement constraints: hostname, labels, arch (uname or Docker names) and role, == and !=", () => {
  const pi = node("pi-2", { arch: "arm64", labels: { disk: "ssd" }, role: "worker" });
  const nuc = node("nuc", { arch: "amd64", labels: {} });
  const wants = (attribute: string, op: "==" | "!=", value: string) =>
    spec("s", { placement: { constraints: [{ attribute, op, value }] } });
  assert.equal(rejection(wants("node.hostname", "==", "pi-2"), pi), undefined);
  assert.equal(
    rejection(wants("node.hostname", "==", "pi-2"), nuc),
    "nuc has nuc, and the service wants node.hostname == pi-2",
  );
  assert.equal(rejection(wants("node.labels.disk", "==", "ssd"), pi), undefined);
  assert.equal(
    rejection(wants("node.labels.disk", "==", "ssd"), nuc),
    "nuc has no node.labels.disk, and the service wants node.labels.disk == ssd",
  );
  assert.equal(rejection(wants("node.platform.arch", "!=", "arm64"), nuc), undefined);
  assert.match(rejection(wants("node.platform.arch", "!=", "aarch64"), pi)!, /pi-2 has arm64/);
  assert.equal(rejection(wants("node.platform.arch", "==", "x86_64"), nuc), undefined);
  assert.equal(rejection(wants("node.role", "==", "manager"), nuc), undefined);
  assert.match(rejection(wants("node.role", "==", "manager"), pi)!, /pi-2 has worker/);
  const none = eligibleNodes(wants("node.labels.gpu", "==", "yes"), [pi, nuc], NO_FACTS);
  assert.deepEqual(none.nodes, []);
  assert.match(
    none.reason!,
    /no ready node meets node\.labels\.gpu == yes; give a node that label/,
  );
});
