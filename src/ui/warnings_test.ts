import assert from "node:assert/strict";
import type { NodeSummary, ServiceSummary } from "../api/mod.ts";
import { resilienceOf } from "../api/summary.ts";
import { clusterWarnings, pendingNodes } from "./warnings.ts";

const NOW = Date.parse("2026-12-03T12:00:00Z");

function node(name: string, o: Partial<NodeSummary> = {}): NodeSummary {
  return {
    id: name,
    name,
    address: "10.0.0.1",
    arch: "arm64",
    site: "home",
    labels: {},
    role: "voter",
    state: "ready",
    version: "1",
    apiPort: 7440,
    httpPort: 80,
    dnsPort: 53,
    startedAt: "",
    lastSeen: new Date(NOW - 180_000).toISOString(),
    drained: false,
    replicas: 0,
    ...o,
  };
}

function warnings(nodes: NodeSummary[], services: ServiceSummary[] = [], admission = []) {
  return clusterWarnings({
    cluster: { resilience: resilienceOf(nodes), warnings: [] },
    nodes,
    services,
    admission,
    now: NOW,
  }).map((w) => w.text);
}

Deno.test("quorum lost says how many voting nodes must come back, and that services keep running", () => {
  const texts = warnings([
    node("pi-1"),
    node("pi-2", { state: "down" }),
    node("pi-3", { state: "down" }),
  ]);
  assert.match(texts[0], /only 1 of its 3 voting nodes is up, and 1 more must come back/);
  assert.match(texts[0], /Services that run keep running/);
  assert.match(texts[1], /pi-2 is down \(last seen 3 min ago\)/);
});

Deno.test("two nodes only say what one failure does", () => {
  const [text] = warnings([node("pi-1"), node("pi-2", { role: "worker" })]);
  assert.match(text, /two nodes\. If pi-1 fails, services keep running but nothing can change/);
  assert.deepEqual(warnings([node("a"), node("b", { role: "worker" }), node("c")]), []);
});

Deno.test("a disk nearly full, a service that cannot be placed and a pending node are named", () => {
  const full = node("pi-1", {
    usage: { load: 0.1, memoryUsed: 1, disk: { total: 100e9, free: 4e9 } },
  });
  const service = {
    name: "media",
    problem: "cannot be placed: no node has /srv/media",
  } as ServiceSummary;
  const texts = warnings([full, node("pi-2"), node("pi-3")], [service], [
    { at: 1, name: "pi-9", event: "pending" },
    { at: 2, name: "pi-8", event: "pending" },
    { at: 3, name: "pi-8", event: "approved" },
  ] as never);
  assert.deepEqual(texts, [
    "pi-1's disk is 96% full (4.0 GB free). Free space on it, or move services with large volumes elsewhere.",
    "media cannot be placed: no node has /srv/media",
    "pi-9 asks to join the cluster and waits for your approval.",
  ]);
});

Deno.test("a node waits for approval while its last admission event is pending", () => {
  assert.deepEqual(
    pendingNodes([
      { at: 5, name: "b", event: "pending" },
      { at: 1, name: "a", event: "pending" },
      { at: 2, name: "a", event: "approved" },
    ]),
    ["b"],
  );
});
