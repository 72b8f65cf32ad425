import assert from "node:assert/strict";
import { composeDeploy } from "./compose_deploy.ts";
import { parseConstraint } from "./constraint.ts";
import type { Problems } from "./problems.ts";

function read(value: unknown) {
  const out: { problems: Problems; warnings: Problems } = { problems: [], warnings: [] };
  const deploy = composeDeploy(value, "d", out);
  return { deploy, ...out };
}

Deno.test("deploy.replicas is the number of replicas, 0 to 100", () => {
  assert.deepEqual(read({ replicas: 3 }), { deploy: { replicas: 3 }, problems: [], warnings: [] });
  assert.deepEqual(read({ replicas: 0 }).deploy, { replicas: 0 });
  // What `replicas: ${REPLICAS:-2}` is once filled, read as compose reads it.
  assert.deepEqual(read({ replicas: "2" }), {
    deploy: { replicas: 2 },
    problems: [],
    warnings: [],
  });
  assert.deepEqual(read({ replicas: "two" }).problems, [{
    path: "d.replicas",
    message: 'expected an integer from 0 to 100, found a string ("two")',
  }]);
  assert.deepEqual(read({ replicas: 101 }).problems, [{
    path: "d.replicas",
    message: "expected an integer from 0 to 100, found the number 101",
  }]);
});

Deno.test("limits go to Docker and reservations to the scheduler, cpus as a string or a number", () => {
  const r = read({
    resources: {
      limits: { cpus: "0.5", memory: "512M", pids: 100 },
      reservations: { cpus: 0.25, memory: "256M" },
    },
  });
  assert.deepEqual(r, {
    deploy: {
      limits: { cpus: 0.5, memory: 512 * 1024 * 1024, pids: 100 },
      reservations: { cpus: 0.25, memory: 256 * 1024 * 1024 },
    },
    problems: [],
    warnings: [],
  });
});

Deno.test("bad limits are refused by path", () => {
  for (const cpus of [true, [2], "0x10"]) {
    assert.deepEqual(
      read({ resources: { limits: { cpus } } }).problems.map((p) => p.path),
      ["d.resources.limits.cpus"],
      JSON.stringify(cpus),
    );
  }
  assert.deepEqual(
    read({ resources: { limits: { memory: "lots", cpus: 0, pids: -1 } } }).problems,
    [
      {
        path: "d.resources.limits.memory",
        message: 'expected memory such as 512M or 1G, found a string ("lots")',
      },
      {
        path: "d.resources.limits.cpus",
        message: "expected a number of CPUs above 0, e.g. 0.5, found the number 0",
      },
      {
        path: "d.resources.limits.pids",
        message: "expected a positive integer, found the number -1",
      },
    ],
  );
  assert.deepEqual(read({ resources: { limits: 1, other: 2 } }).problems, [
    {
      path: "d.resources.limits",
      message: "expected a mapping with cpus, memory or pids, found the number 1",
    },
    {
      path: "d.resources.other",
      message: "fossora does not understand this compose key; remove it",
    },
  ]);
});

Deno.test("a GPU reservation is ignored with a warning; the rest of the reservation is kept", () => {
  const r = read({
    resources: {
      reservations: {
        memory: "1G",
        devices: [{ driver: "nvidia", count: 1, capabilities: ["gpu"] }],
      },
    },
  });
  assert.deepEqual(r.deploy, { reservations: { memory: 1024 * 1024 * 1024 } });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.warnings, [{
    path: "d.resources.reservations.devices",
    message: "GPU reservations are ignored: give the device under devices (e.g. /dev/dri)",
  }]);
});

Deno.test("Swarm constraints are parsed with or without spaces, quoted values unquoted", () => {
  assert.deepEqual(parseConstraint("node.hostname == pi-2"), {
    attribute: "node.hostname",
    op: "==",
    value: "pi-2",
  });
  assert.deepEqual(parseConstraint("node.labels.disk==ssd"), {
    attribute: "node.labels.disk",
    op: "==",
    value: "ssd",
  });
  assert.deepEqual(parseConstraint("node.platform.arch != arm64"), {
    attribute: "node.platform.arch",
    op: "!=",
    value: "arm64",
  });
  assert.deepEqual(parseConstraint('node.labels.zone == "home a"'), {
    attribute: "node.labels.zone",
    op: "==",
    value: "home a",
  });
  assert.deepEqual(parseConstraint("node.role=='manager'"), {
    attribute: "node.role",
    op: "==",
    value: "manager",
  });
  // Docker's engine labels are the node's labels in fossora.
  assert.deepEqual(parseConstraint("engine.labels.gpu == yes"), {
    attribute: "node.labels.gpu",
    op: "==",
    value: "yes",
  });
});

Deno.test("a constraint on an attribute fossora does not know, or not a constraint at all, is refused", () => {
  assert.equal(
    parseConstraint("node.ip == 10.0.0.1"),
    "'node.ip' is not an attribute fossora knows: use node.hostname, node.id, node.role, " +
      "node.platform.arch, node.platform.os or node.labels.KEY",
  );
  assert.equal(
    parseConstraint("node.hostname = pi"),
    "'node.hostname = pi' is not a constraint; write it like node.labels.disk == ssd",
  );
  const r = read({ placement: { constraints: ["node.labels.disk == ssd", "nonsense", 5] } });
  // One bad constraint and none are kept (the file is refused anyway), as in fossora's form.
  assert.equal(r.deploy.constraints, undefined);
  assert.deepEqual(r.problems, [
    {
      path: "d.placement.constraints[1]",
      message: "'nonsense' is not a constraint; write it like node.labels.disk == ssd",
    },
    { path: "d.placement.constraints[2]", message: "expected a string, found the number 5" },
  ]);
  assert.deepEqual(read({ placement: { constraints: "node.role == manager" } }).problems, [{
    path: "d.placement.constraints",
    message: 'expected a list such as ["node.labels.disk == ssd"], found a string ' +
      '("node.role == manager")',
  }]);
});

Deno.test("restart_policy, update_config and the other Swarm policies are ignored with a warning saying what fossora does", () => {
  const r = read({
    restart_policy: { condition: "on-failure" },
    update_config: { parallelism: 1 },
    rollback_config: {},
    labels: { a: "1" },
    endpoint_mode: "vip",
    placement: { preferences: [{ spread: "node.labels.site" }], max_replicas_per_node: 1 },
  });
  assert.deepEqual(r.deploy, {});
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.warnings.map((w) => `${w.path}: ${w.message}`), [
    "d.restart_policy: is ignored: fossora restarts a container that exits, and moves it when " +
    "its node dies",
    "d.update_config: is ignored: fossora updates one replica at a time and waits until it is " +
    "ready",
    "d.rollback_config: is ignored: fossora stops a rolling update whose new replica does not " +
    "become ready",
    "d.labels: is ignored: Swarm's service labels are not kept; container labels go under labels",
    "d.endpoint_mode: is ignored: every node's proxy and routing mesh reach a ready replica",
    "d.placement.preferences: is ignored: fossora spreads replicas over sites and nodes by itself",
    "d.placement.max_replicas_per_node: is ignored: fossora spreads replicas over sites and " +
    "nodes by itself",
  ]);
});

Deno.test("mode global is accepted with a warning; replicated is the default; anything else is refused", () => {
  const global = read({ mode: "global" });
  assert.deepEqual(global.deploy, {});
  assert.deepEqual(global.problems, []);
  assert.deepEqual(global.warnings, [{
    path: "d.mode",
    message: "global is not supported yet: fossora runs `replicas` copies (default 1), spread " +
      "over the nodes; set replicas to the number of nodes",
  }]);
  assert.deepEqual(read({ mode: "replicated" }), { deploy: {}, problems: [], warnings: [] });
  assert.deepEqual(read({ mode: "x" }).problems, [{
    path: "d.mode",
    message: 'expected replicated or global, found a string ("x")',
  }]);
});

Deno.test("a deploy that is not a mapping, or holds an unknown key, is refused by path", () => {
  assert.deepEqual(read("x").problems, [{
    path: "d",
    message: 'expected a mapping with replicas, resources or placement, found a string ("x")',
  }]);
  assert.deepEqual(read({ bogus: 1 }).problems, [{
    path: "d.bogus",
    message: "fossora does not understand this compose key; remove it",
  }]);
  assert.deepEqual(read(undefined), { deploy: {}, problems: [], warnings: [] });
});

Deno.test("a constraint line padded with a hundred thousand spaces is answered at once", () => {
  const long = "node.labels.a==b" + " ".repeat(100_000) + "x";
  const parsed = parseConstraint(long);
  assert.ok(typeof parsed !== "string");
  assert.equal(parsed.value, "b" + " ".repeat(100_000) + "x");
  assert.match(parseConstraint("node.id ==   ") as string, /is not a constraint/);
});
