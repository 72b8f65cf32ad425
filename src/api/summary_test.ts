import assert from "node:assert/strict";
import {
  describeService,
  resilienceOf,
  serviceProblem,
  serviceState,
  summarizeCluster,
  summarizeNodes,
  summarizeService,
} from "./summary.ts";
import type { NodeRecord } from "../state/types.ts";
import { replica, sampleView, spec } from "./fixtures.ts";

Deno.test("serviceState names each situation of a service", () => {
  assert.equal(serviceState(0, []), "stopped");
  assert.equal(serviceState(1, []), "pending");
  assert.equal(
    serviceState(1, [replica("a", 0, "n1", { state: "starting", ready: false })]),
    "starting",
  );
  assert.equal(serviceState(1, [replica("a", 0, "n1")]), "ready");
  assert.equal(serviceState(2, [replica("a", 0, "n1")]), "degraded");
  assert.equal(
    serviceState(2, [
      replica("a", 0, "n1"),
      replica("a", 1, "n1", { state: "error", ready: false }),
    ]),
    "failing",
  );
});

Deno.test("summarizeService counts replicas, names nodes and gives the URL of an HTTP service", () => {
  const view = sampleView();
  const s = summarizeService(view, view.service("whoami")!, "home.test");
  assert.deepEqual(s, {
    name: "whoami",
    image: "example/whoami:1",
    generation: 1,
    replicas: 2,
    running: 2,
    ready: 2,
    nodes: ["pi-a", "pi-b"],
    url: "http://whoami.home.test/",
    published: [],
    publishedUdp: [],
    state: "ready",
    problem: null,
  });
});

Deno.test("a published UDP port is listed apart from the TCP ones", () => {
  const view = sampleView();
  const mc = view.service("mc")!;
  mc.spec.ports = [
    { container: 25565, http: false, published: 25565 },
    { container: 19132, http: false, published: 19132, protocol: "udp" },
  ];
  const s = summarizeService(view, mc, "home.test");
  assert.deepEqual([s.published, s.publishedUdp], [[25565], [19132]]);
});

Deno.test("summarizeService lists published ports and no URL for a service without HTTP", () => {
  const view = sampleView();
  const s = summarizeService(view, view.service("mc")!, "home.test");
  assert.equal(s.url, null);
  assert.deepEqual(s.published, [25565]);
  assert.deepEqual(s.publishedUdp, []);
  assert.equal(s.running, 0);
  assert.equal(s.state, "failing");
});

Deno.test("describeService gives each replica's node name, container and exit", () => {
  const view = sampleView();
  const d = describeService(view, view.service("mc")!, "home.test");
  assert.equal(d.replicas.length, 1);
  assert.deepEqual(d.replicas[0], {
    replica: 0,
    node: "pi-b",
    nodeId: "n2",
    containerId: "c-mc-0",
    state: "exited",
    ready: false,
    exitCode: 1,
    message: "boom",
    since: "2025-01-01T00:00:00.000Z",
    restarts: 0,
    generation: 1,
  });
});

Deno.test("describeService shows the node id when the node is unknown", () => {
  const view = sampleView();
  view.serviceMap.set("x", { spec: spec("x"), generation: 3, createdAt: "", updatedAt: "" });
  view.putReplica(replica("x", 0, "gone"));
  assert.equal(describeService(view, view.service("x")!, "d").replicas[0].node, "gone");
});

Deno.test("describeService says per node whether it may run the service, and why not", () => {
  const view = sampleView();
  view.nodeMap.set("n1", { ...view.node("n1")!, hostPaths: { "/srv/media": "dir" } });
  view.nodeMap.set("n2", { ...view.node("n2")!, hostPaths: { "/srv/media": "missing" } });
  const media = spec("media", { binds: [{ source: "/srv/media", path: "/media" }] });
  view.serviceMap.set("media", { spec: media, generation: 1, createdAt: "", updatedAt: "" });
  assert.deepEqual(describeService(view, view.service("media")!, "d").nodes, [
    { node: "pi-a", nodeId: "n1", eligible: true, reason: null },
    { node: "pi-b", nodeId: "n2", eligible: false, reason: "pi-b has no /srv/media" },
  ]);
  // Host networking: the node running it stays eligible; another's port on a node rejects it.
  const web = spec("web", { hostNetwork: true, ports: [{ container: 8080, http: true }] });
  const other = spec("other", { hostNetwork: true, ports: [{ container: 8080, http: true }] });
  for (const s of [web, other]) {
    view.serviceMap.set(s.name, { spec: s, generation: 1, createdAt: "", updatedAt: "" });
  }
  view.putReplica(replica("web", 0, "n1"));
  assert.deepEqual(describeService(view, view.service("web")!, "d").nodes?.map((n) => n.reason), [
    null,
    null,
  ]);
  assert.deepEqual(describeService(view, view.service("other")!, "d").nodes?.map((n) => n.reason), [
    "pi-a's port 8080 is taken by service web (host networking)",
    null,
  ]);
});

Deno.test("summarizeCluster marks the leader among the members", () => {
  const c = summarizeCluster(sampleView(), {
    nodeId: "n1",
    nodeName: "pi-a",
    domain: "home.test",
    version: "1.2.3",
    leader: "n2",
  });
  assert.equal(c.id, "cluster-1");
  assert.deepEqual(c.leader, { id: "n2", name: "pi-b" });
  assert.deepEqual(c.members.map((m) => [m.name, m.role, m.leader]), [
    ["pi-a", "voter", false],
    ["pi-b", "learner", true],
  ]);
  const noLeader = { nodeId: "n1", nodeName: "pi-a", domain: "d", version: "1" };
  assert.equal(summarizeCluster(sampleView(), noLeader).leader, null);
});

Deno.test("a service that cannot be placed says why before any replica's message", () => {
  const view = sampleView();
  view.placementMap.set("whoami", {
    service: "whoami",
    reason: "no ready node has arch s390x",
    since: "",
  });
  const s = summarizeService(view, view.service("whoami")!, "home.test");
  assert.equal(s.problem, "cannot be placed: no ready node has arch s390x");
});

Deno.test("the proxy's last failure is the problem when nothing else explains it", () => {
  const view = sampleView();
  const record = view.service("whoami")!;
  const problem = (s: string) => (s === "whoami" ? "the proxy could not get an answer" : undefined);
  assert.equal(summarizeService(view, record, "d.x").problem, null);
  assert.equal(summarizeService(view, record, "d.x", problem).problem, problem("whoami"));
  assert.equal(describeService(view, record, "d.x", problem).problem, problem("whoami"));
});

Deno.test("resilience says plainly what one failure does", () => {
  const node = (name: string, role: NodeRecord["role"], state: NodeRecord["state"] = "ready") =>
    ({ name, role, state }) as NodeRecord;
  const one = resilienceOf([node("a", "voter"), node("b", "worker")]);
  assert.equal(one.tolerates, 0);
  assert.equal(
    one.summary,
    "one voter (a): if it fails, nothing can change until it is back; workers may fail freely",
  );
  const three = resilienceOf([node("a", "voter"), node("b", "voter"), node("c", "voter")]);
  assert.deepEqual([three.voters, three.votersUp, three.tolerates], [3, 3, 1]);
  assert.equal(three.summary, "3 voters: any 1 may fail");
  const degraded = resilienceOf([
    node("a", "voter"),
    node("b", "voter"),
    node("c", "voter", "down"),
  ]);
  assert.match(degraded.summary, /^2 of 3 voters up \(a, b\): one more failure stops changes/);
  const lost = resilienceOf([
    node("a", "voter"),
    node("b", "voter", "down"),
    node("c", "voter", "down"),
  ]);
  assert.match(lost.summary, /only 1 of 3 voters are up: nothing can change/);
});

Deno.test("nodes: the live ones as they say, admitted ones that are not running as down or left", () => {
  const view = sampleView();
  const member = (id: string, name: string, o: Record<string, number> = {}) => ({
    id,
    name,
    address: "10.0.0.9",
    site: "default",
    arch: "arm64",
    apiPort: 7440,
    etcdPeerPort: 2380,
    etcdClientPort: 2379,
    role: "voter" as const,
    joinedAt: 1_000,
    ...o,
  });
  view.memberMap.set("n1", member("n1", "pi-a"));
  view.memberMap.set("n3", member("n3", "pi-c", { downAt: Date.UTC(2026, 0, 2) }));
  view.memberMap.set("n4", member("n4", "pi-d", { leftAt: Date.UTC(2026, 0, 3) }));
  const rows = summarizeNodes(view).map((n) => `${n.name} ${n.role} ${n.state} ${n.lastSeen}`);
  assert.deepEqual(rows, [
    `pi-a voter ready ${view.node("n1")!.lastSeen}`,
    `pi-b learner ready ${view.node("n2")!.lastSeen}`,
    "pi-c voter down 2026-01-02T00:00:00.000Z",
    "pi-d voter left 2026-01-03T00:00:00.000Z",
  ]);
});

Deno.test("a stopped roll says which new replica fails and how: it does not start, or fails its health check", () => {
  const view = sampleView();
  const record = { ...view.service("whoami")!, generation: 2 };
  view.serviceMap.set("whoami", record);
  const old = replica("whoami", 1, "n2");
  const problem = (message: string) =>
    serviceProblem(view, "whoami", [
      replica("whoami", 0, "n1", { generation: 2, state: "error", ready: false, message }),
      old,
    ]);
  assert.equal(
    problem("pull access denied for example/whoami"),
    "the update to generation 2 is stopped: replica 0 does not start (pull access denied for " +
      "example/whoami); 1 replica(s) of generation 1 keep serving. Deploy a fixed spec to go on.",
  );
  assert.equal(
    problem("unhealthy: migrations pending"),
    "the update to generation 2 is stopped: replica 0 fails its health check (migrations " +
      "pending); 1 replica(s) of generation 1 keep serving. Deploy a fixed spec to go on.",
  );
});
