import assert from "node:assert/strict";
import type { Assignment, NodeRecord, ServiceRecord, ServiceSpec } from "../state/types.ts";
import { NO_SCHEDULE_FACTS, planSchedule } from "./plan.ts";

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
    dnsPort: 53,
    startedAt: "",
    lastSeen: "",
    ...over,
  };
}

function service(
  name: string,
  replicas: number,
  generation = 1,
  over: Partial<ServiceSpec> = {},
): ServiceRecord {
  return {
    spec: { name, image: "i", replicas, ports: [], env: {}, volumes: [], placement: {}, ...over },
    generation,
    createdAt: "",
    updatedAt: "",
  };
}

Deno.test("replicas spread over the eligible nodes", () => {
  const plan = planSchedule([service("web", 3)], [node("a"), node("b")], []);
  const nodes = plan.put.map((a) => a.node).sort();
  assert.deepEqual(nodes, ["a", "a", "b"]);
  assert.deepEqual(plan.remove, []);
});

Deno.test("a placed replica stays where it is and follows the new generation", () => {
  const current: Assignment[] = [{ service: "web", replica: 0, node: "b", generation: 1 }];
  const plan = planSchedule([service("web", 1, 2)], [node("a"), node("b")], current);
  assert.deepEqual(plan.put, [{ service: "web", replica: 0, node: "b", generation: 2 }]);
});

Deno.test("a new generation rolls one replica at a time, each after the one before is ready", () => {
  const at = (gen: number): Assignment[] =>
    [0, 1, 2].map((r) => ({
      service: "web",
      replica: r,
      node: ["a", "b", "c"][r],
      generation: gen,
    }));
  const nodes = [node("a"), node("b"), node("c")];
  const first = planSchedule([service("web", 3, 2)], nodes, at(1));
  assert.deepEqual(first.put, [{ service: "web", replica: 0, node: "a", generation: 2 }]);

  const rolling = [first.put[0], ...at(1).slice(1)];
  const notReady = { ...NO_SCHEDULE_FACTS, ready: () => false };
  assert.deepEqual(
    planSchedule([service("web", 3, 2)], nodes, rolling, notReady).put,
    [],
    "a replica of the new generation that is not ready stops the roll",
  );
  const ready = {
    ...NO_SCHEDULE_FACTS,
    ready: (_s: string, r: number, _n: string, g: number) => r === 0 && g === 2,
  };
  assert.deepEqual(planSchedule([service("web", 3, 2)], nodes, rolling, ready).put, [
    { service: "web", replica: 1, node: "b", generation: 2 },
  ]);
});

Deno.test("nothing changes when the assignments already match", () => {
  const current: Assignment[] = [{ service: "web", replica: 0, node: "a", generation: 1 }];
  const plan = planSchedule([service("web", 1)], [node("a")], current);
  assert.deepEqual(plan, { put: [], remove: [], unplaced: new Map(), moves: [] });
});

Deno.test("scaling down and removing a service remove their assignments", () => {
  const current: Assignment[] = [
    { service: "web", replica: 0, node: "a", generation: 1 },
    { service: "web", replica: 1, node: "a", generation: 1 },
    { service: "gone", replica: 0, node: "a", generation: 1 },
  ];
  const plan = planSchedule([service("web", 1)], [node("a")], current);
  assert.deepEqual(plan.remove, [{ service: "gone", replica: 0 }, { service: "web", replica: 1 }]);
});

Deno.test("a replica on a node that went down moves to a ready one", () => {
  const current: Assignment[] = [{ service: "web", replica: 0, node: "a", generation: 1 }];
  const plan = planSchedule(
    [service("web", 1)],
    [node("a", { state: "down" }), node("b")],
    current,
  );
  assert.deepEqual(plan.put, [{ service: "web", replica: 0, node: "b", generation: 1 }]);
  assert.deepEqual(plan.moves, [{
    service: "web",
    replica: 0,
    from: "a",
    to: "b",
    why: "a is down",
  }]);
});

Deno.test("a replica whose node is gone moves at once, with no old copy to wait for", () => {
  const current: Assignment[] = [{ service: "web", replica: 0, node: "a", generation: 1 }];
  const plan = planSchedule([service("web", 1)], [node("b")], current);
  assert.deepEqual(plan.put, [{ service: "web", replica: 0, node: "b", generation: 1 }]);
  assert.deepEqual(plan.moves, [{
    service: "web",
    replica: 0,
    from: "a",
    to: "b",
    why: undefined,
  }]);
});

const drainedA = { drained: (id: string) => id === "a", ready: () => false };

Deno.test("a drained node's replicas leave one at a time, each old copy kept until the new one is ready", () => {
  const current: Assignment[] = [
    { service: "web", replica: 0, node: "a", generation: 1 },
    { service: "web", replica: 1, node: "a", generation: 1 },
  ];
  const first = planSchedule([service("web", 2)], [node("a"), node("b")], current, drainedA);
  assert.deepEqual(first.put, [
    { service: "web", replica: 0, node: "b", generation: 1, previous: "a" },
  ]);
  assert.deepEqual(first.moves, [
    { service: "web", replica: 0, from: "a", to: "b", why: "a is drained" },
  ]);

  const moving = [first.put[0], current[1]];
  const waiting = planSchedule([service("web", 2)], [node("a"), node("b")], moving, drainedA);
  assert.deepEqual(waiting.put, [], "nothing more until the new copy is ready");

  const ready = { ...drainedA, ready: (_s: string, r: number, n: string) => r === 0 && n === "b" };
  const done = planSchedule([service("web", 2)], [node("a"), node("b")], moving, ready);
  assert.deepEqual(done.put, [{ service: "web", replica: 0, node: "b", generation: 1 }]);

  const next = planSchedule(
    [service("web", 2)],
    [node("a"), node("b")],
    [done.put[0], current[1]],
    ready,
  );
  assert.deepEqual(next.put, [
    { service: "web", replica: 1, node: "b", generation: 1, previous: "a" },
  ]);
});

Deno.test("an old copy is let go when its node dies during the move", () => {
  const moving: Assignment[] = [
    { service: "web", replica: 0, node: "b", generation: 1, previous: "a" },
  ];
  const plan = planSchedule([service("web", 1)], [node("b")], moving);
  assert.deepEqual(plan.put, [{ service: "web", replica: 0, node: "b", generation: 1 }]);
});

Deno.test("with every node drained, replicas stay where they are and the service says why", () => {
  const current: Assignment[] = [{ service: "web", replica: 0, node: "a", generation: 1 }];
  const plan = planSchedule([service("web", 1)], [node("a")], current, drainedA);
  assert.deepEqual(plan.put, []);
  assert.match(plan.unplaced.get("web")!, /every ready node is drained/);
});

Deno.test("a service no node can run says why", () => {
  const plan = planSchedule(
    [service("web", 1, 1, { placement: { arch: ["arm64"] } })],
    [node("a")],
    [],
  );
  assert.deepEqual(plan.put, []);
  assert.equal(plan.unplaced.get("web"), "no ready node has arch arm64");
});

Deno.test("a replica goes only to nodes of an arch its image is built for, and the reason names both", () => {
  const facts = (platforms?: string[]) => ({
    ...NO_SCHEDULE_FACTS,
    platforms: (image: string) => (image === "i" ? platforms : undefined),
  });
  const nodes = [node("pi", { arch: "arm64" }), node("pc", { arch: "amd64" })];
  const web = [service("web", 2)];
  const both = planSchedule(web, nodes, [], facts(["linux/amd64", "linux/arm64"]));
  assert.deepEqual(both.put.map((a) => a.node).sort(), ["pc", "pi"]);
  const armOnly = planSchedule(web, nodes, [], facts(["linux/arm64", "unknown/unknown"]));
  assert.deepEqual(armOnly.put.map((a) => a.node), ["pi", "pi"]);
  // Unknown platforms (no registry, not looked up yet) restrict nothing.
  assert.equal(planSchedule(web, nodes, [], facts(undefined)).put.length, 2);
  const none = planSchedule(web, [node("pc")], [], facts(["linux/arm/v7", "linux/arm64"]));
  assert.equal(
    none.unplaced.get("web"),
    "the image i is built for arm or arm64 and no ready node is; add such a node, or use an " +
      "image built for your nodes too",
  );
  // A placed replica whose image turns out not to run there moves, saying why.
  const moved = planSchedule(
    web,
    nodes,
    [
      { service: "web", replica: 0, node: "pc", generation: 1 },
      { service: "web", replica: 1, node: "pi", generation: 1 },
    ],
    facts(["linux/arm64"]),
  );
  assert.deepEqual(moved.moves.map((m) => [m.from, m.to, m.why]), [
    ["pc", "pi", "pc is amd64, and the image i is built for arm64"],
  ]);
});

Deno.test("a service that asks for a platform goes only to nodes of its arch, saying why", () => {
  const nodes = [node("pi", { arch: "arm" }), node("pc", { arch: "amd64" })];
  const web = [service("web", 2, 1, { container: { platform: "linux/arm/v7" } })];
  assert.deepEqual(planSchedule(web, nodes, []).put.map((a) => a.node), ["pi", "pi"]);
  const none = planSchedule(web, [node("pc")], []);
  assert.equal(
    none.unplaced.get("web"),
    "the service asks for platform linux/arm/v7 and no ready node is arm; add such a node, or " +
      "remove container.platform",
  );
  const moved = planSchedule(web, nodes, [
    { service: "web", replica: 0, node: "pc", generation: 1 },
    { service: "web", replica: 1, node: "pi", generation: 1 },
  ]);
  assert.deepEqual(moved.moves.map((m) => [m.from, m.to, m.why]), [
    ["pc", "pi", "pc is amd64, and the service runs the linux/arm/v7 build of its image"],
  ]);
});

Deno.test("a new service waits while its image's platforms are first looked up; a move does not", () => {
  const facts = { ...NO_SCHEDULE_FACTS, platformsPending: () => true };
  const waiting = planSchedule([service("web", 1)], [node("a")], [], facts);
  assert.deepEqual(waiting.put, []);
  assert.equal(waiting.unplaced.size, 0, "waiting is not a problem to show");
  const current: Assignment[] = [{ service: "web", replica: 0, node: "gone", generation: 1 }];
  const moved = planSchedule([service("web", 1)], [node("a")], current, facts);
  assert.deepEqual(moved.put.map((a) => a.node), ["a"]);
  // A new generation waits too: it may name another image.
  const roll = planSchedule(
    [service("web", 1, 2)],
    [node("a")],
    [{ ...current[0], node: "a" }],
    facts,
  );
  assert.deepEqual(roll.put, []);
});

Deno.test("labels and sites narrow the nodes", () => {
  const plan = planSchedule(
    [service("web", 1, 1, { placement: { sites: ["home-b"], labels: { disk: "ssd" } } })],
    [node("a", { site: "home-b" }), node("b", { site: "home-b", labels: { disk: "ssd" } })],
    [],
  );
  assert.deepEqual(plan.put.map((a) => a.node), ["b"]);
});

Deno.test("a placed replica stays where it is when no node is eligible at all", () => {
  const current: Assignment[] = [{ service: "web", replica: 0, node: "a", generation: 1 }];
  const plan = planSchedule([service("web", 1)], [], current);
  assert.deepEqual(plan.remove, []);
  assert.deepEqual(plan.put, []);
  assert.equal(plan.unplaced.get("web"), "no node is ready");
});

Deno.test("a service with volumes leaves a drained node break-before-make: no old copy is kept", () => {
  const current: Assignment[] = [{ service: "db", replica: 0, node: "a", generation: 1 }];
  const db = service("db", 1, 1, { volumes: [{ name: "data", path: "/data" }] });
  const plan = planSchedule([db], [node("a"), node("b")], current, drainedA);
  assert.deepEqual(plan.put, [{ service: "db", replica: 0, node: "b", generation: 1 }]);
});

Deno.test("replicas spread across sites first, then nodes, then the least loaded node", () => {
  const nodes = [
    node("a1", { site: "home-a" }),
    node("a2", { site: "home-a" }),
    node("b1", { site: "home-b" }),
  ];
  const plan = planSchedule([service("web", 2)], nodes, []);
  assert.deepEqual(plan.put.map((a) => a.node).sort(), ["a1", "b1"], "one per site");
  const three = planSchedule([service("web", 3)], nodes, []);
  assert.deepEqual(three.put.map((a) => a.node).sort(), ["a1", "a2", "b1"]);
  const busy: Assignment[] = [{ service: "other", replica: 0, node: "a1", generation: 1 }];
  const loaded = planSchedule([service("other", 1), service("web", 2)], nodes, busy);
  assert.deepEqual(
    loaded.put.filter((a) => a.service === "web").map((a) => a.node).sort(),
    ["a2", "b1"],
    "within a site, the node with fewer replicas in all",
  );
});

Deno.test("a replica goes only where the resources it asks for are left, and the reason names them", () => {
  const GiB = 1024 ** 3;
  const capacity = { cpus: 4, memory: 4 * GiB };
  const nodes = [node("a", { capacity }), node("b", { capacity: { cpus: 1, memory: 8 * GiB } })];
  const big = service("big", 2, 1, { resources: { cpus: 2, memory: GiB } });
  const plan = planSchedule([big], nodes, []);
  assert.deepEqual(plan.put.map((x) => x.node), ["a", "a"], "b has 1 CPU: both go to a");

  const third = service("big", 3, 1, { resources: { cpus: 2, memory: GiB } });
  const placed = plan.put;
  const more = planSchedule([third], nodes, placed);
  assert.deepEqual(more.put, []);
  assert.match(more.unplaced.get("big")!, /no ready node has 2 CPUs and 1024 MiB left/);

  // Placed replicas stay where they are, even when what they ask for grew.
  const grown = service("big", 2, 1, { resources: { cpus: 3 } });
  assert.deepEqual(planSchedule([grown], nodes, placed).put, []);
  // A node that does not say what it has takes anything.
  const plain = planSchedule([third], [node("c")], []);
  assert.equal(plain.put.length, 3);
});

Deno.test("a bind mount only one node has places the service there and says why not elsewhere", () => {
  const svc = service("media", 1, 1, { binds: [{ source: "/srv/media", path: "/media" }] });
  const nodes = [
    node("a", { hostPaths: { "/srv/media": "missing" } }),
    node("b", { hostPaths: { "/srv/media": "dir" } }),
    node("c"),
  ];
  const plan = planSchedule([svc], nodes, []);
  assert.deepEqual(plan.put, [{ service: "media", replica: 0, node: "b", generation: 1 }]);
  // The path disappears from b and appears on a: the replica moves there.
  const moved = planSchedule([svc], [
    node("a", { hostPaths: { "/srv/media": "dir" } }),
    node("b", { hostPaths: { "/srv/media": "missing" } }),
  ], plan.put);
  assert.equal(moved.put[0].node, "a");
  assert.equal(moved.moves[0].why, "b has no /srv/media");
  // Its agent restarted and has not checked the path again yet: the replica stays.
  const restarted = planSchedule([svc], [
    node("a", { hostPaths: { "/srv/media": "dir" } }),
    node("b"),
  ], plan.put);
  assert.deepEqual(restarted.put, []);
});

Deno.test("host networking places one replica a node; the extra ones stay unplaced with why", () => {
  const svc = service("pihole", 3, 1, {
    hostNetwork: true,
    ports: [{ container: 8080, http: true }],
  });
  const plan = planSchedule([svc], [node("a"), node("b")], []);
  assert.deepEqual(plan.put.map((a) => a.node).sort(), ["a", "b"]);
  assert.match(plan.unplaced.get("pihole") ?? "", /^host networking runs one replica a node/);
  // A second round keeps them: a replica's own port does not reject its node.
  const again = planSchedule([svc], [node("a"), node("b")], plan.put);
  assert.deepEqual(again.put, []);
});

Deno.test("a host-network service is not placed where another holds its port", () => {
  const web = service("web", 1, 1, { hostNetwork: true, ports: [{ container: 8080, http: true }] });
  const other = service("other", 1, 1, {
    hostNetwork: true,
    ports: [{ container: 8080, http: true }],
  });
  const current: Assignment[] = [{ service: "web", replica: 0, node: "a", generation: 1 }];
  const plan = planSchedule([other, web], [node("a"), node("b")], current);
  assert.deepEqual(plan.put, [{ service: "other", replica: 0, node: "b", generation: 1 }]);
  const full = planSchedule([other, web], [node("a")], current);
  assert.deepEqual(full.put, []);
  assert.match(full.unplaced.get("other") ?? "", /host networking/);
});

Deno.test("two replicas of a host-network service on one node: the second moves", () => {
  const svc = service("pihole", 2, 1, { hostNetwork: true });
  const current: Assignment[] = [
    { service: "pihole", replica: 0, node: "a", generation: 1 },
    { service: "pihole", replica: 1, node: "a", generation: 1 },
  ];
  const plan = planSchedule([svc], [node("a"), node("b")], current);
  assert.deepEqual(plan.put, [
    { service: "pihole", replica: 1, node: "b", generation: 1, previous: "a" },
  ]);
});

/** Nextcloud's app, cron and web on one `nextcloud` volume; db with a volume of its own. */
function nextcloud(): ServiceRecord[] {
  const shared = { name: "nextcloud", path: "/var/www/html", shared: true as const };
  const on = (name: string, volumes: ServiceSpec["volumes"]) =>
    service(`${name}.nc`, 1, 1, { stack: "nc", volumes });
  return [
    on("app", [shared]),
    on("cron", [shared]),
    on("web", [{ ...shared, readOnly: true }]),
    on("db", [{ name: "db", path: "/var/lib/mysql" }]),
  ];
}

const nodeOf = (plan: { put: Assignment[] }, service: string) =>
  plan.put.find((a) => a.service === service)?.node;

Deno.test("services that share a volume are placed on one node, and move to one node together", () => {
  const nodes = [node("a"), node("b"), node("c")];
  const first = planSchedule(nextcloud(), nodes, []);
  const home = nodeOf(first, "app.nc")!;
  assert.equal(nodeOf(first, "cron.nc"), home);
  assert.equal(nodeOf(first, "web.nc"), home);
  assert.notEqual(nodeOf(first, "db.nc"), home, "db's own volume leaves it free to spread");

  // Their node goes down: all three go to one other node in the same step.
  const down = nodes.map((n) => n.id === home ? { ...n, state: "down" as const } : n);
  const moved = planSchedule(nextcloud(), down, first.put);
  const next = nodeOf(moved, "app.nc")!;
  assert.notEqual(next, home);
  assert.equal(nodeOf(moved, "cron.nc"), next);
  assert.equal(nodeOf(moved, "web.nc"), next);
  assert.deepEqual(
    moved.moves.filter((m) => m.service !== "db.nc").map((m) => [m.service, m.to]),
    [["app.nc", next], ["cron.nc", next], ["web.nc", next]],
  );
});

Deno.test("a service placed apart from the one it shares a volume with joins it, and says why", () => {
  const current: Assignment[] = [
    { service: "app.nc", replica: 0, node: "a", generation: 1 },
    { service: "cron.nc", replica: 0, node: "b", generation: 1 },
    { service: "web.nc", replica: 0, node: "a", generation: 1 },
    { service: "db.nc", replica: 0, node: "b", generation: 1 },
  ];
  const plan = planSchedule(nextcloud(), [node("a"), node("b")], current);
  assert.deepEqual(plan.put, [{ service: "cron.nc", replica: 0, node: "a", generation: 1 }]);
  assert.deepEqual(plan.moves, [{
    service: "cron.nc",
    replica: 0,
    from: "b",
    to: "a",
    why: "b is not a, where app.nc runs with the volume nextcloud they share",
  }]);
});

Deno.test("a service that must join a full node is unplaced, with that node's reason", () => {
  const services = nextcloud().filter((s) => s.spec.name !== "db.nc");
  services[1].spec.resources = { memory: 2 * 1024 ** 3 };
  const small = { cpus: 4, memory: 1024 ** 3 };
  const plan = planSchedule(services, [
    node("a", { capacity: small }),
    node("b", { capacity: { cpus: 4, memory: 8 * 1024 ** 3 } }),
  ], [{ service: "app.nc", replica: 0, node: "a", generation: 1 }]);
  assert.equal(nodeOf(plan, "cron.nc"), undefined);
  assert.equal(
    plan.unplaced.get("cron.nc"),
    "cron.nc shares the volume nextcloud with app.nc, so it runs on a too, and a has 1024 MiB " +
      "left, and a replica asks for 2048 MiB; make room there, or give the services volumes of " +
      "their own",
  );
  assert.equal(nodeOf(plan, "web.nc"), "a");
});

Deno.test("a group goes where every member may run, even when its first member could go elsewhere", () => {
  const data = { name: "data", path: "/data", shared: true as const };
  const pinned = { constraints: [{ attribute: "node.hostname", op: "==" as const, value: "a" }] };
  const services = [
    service("reader.n", 1, 1, { stack: "n", volumes: [data] }),
    service("writer.n", 1, 1, { stack: "n", volumes: [data], placement: pinned }),
  ];
  const nodes = [node("a"), node("b")];
  // a runs more already: alone, the reader would go to b.
  const busy: Assignment[] = [{ service: "other", replica: 0, node: "a", generation: 1 }];
  const others = [service("other", 1)];
  const plan = planSchedule([...others, ...services], nodes, busy);
  assert.equal(nodeOf(plan, "reader.n"), "a");
  assert.equal(nodeOf(plan, "writer.n"), "a");
  // The reader placed on b before (an older agent): it joins the writer's only node.
  const apart = planSchedule([...others, ...services], nodes, [
    ...busy,
    { service: "reader.n", replica: 0, node: "b", generation: 1 },
  ]);
  assert.equal(nodeOf(apart, "reader.n"), "a");
  assert.equal(nodeOf(apart, "writer.n"), "a");
});
