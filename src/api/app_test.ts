import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { createLogger } from "../util/log.ts";
import { createApi, STALE_HEADER } from "./app.ts";
import { MemoryStore, sampleView, testDeps } from "./fixtures.ts";
import type { ApiDeps, LogOptions } from "./types.ts";

const TOKEN = "admin-secret";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const enc = new TextEncoder();

interface LogCall {
  service: string;
  replica: number;
  node: string;
  opts: LogOptions;
}

/** A test API over `sampleView()` with an in-memory store; overrides replace deps. */
function setup(overrides: Partial<ApiDeps> = {}) {
  const view = sampleView();
  const store = new MemoryStore(view);
  const logged: string[] = [];
  const logCalls: LogCall[] = [];
  const deps = testDeps(view, {
    services: store,
    adminToken: TOKEN,
    leader: () => "n1",
    joinToken: () => Promise.resolve("join-secret"),
    logs: (service, replica, node, opts) => {
      logCalls.push({ service, replica, node, opts });
      return Promise.resolve(ReadableStream.from([enc.encode(`line from ${replica}\n`)]));
    },
    version: "1.2.3",
    logger: createLogger("api", { sink: (l) => logged.push(l) }),
    ...overrides,
  });
  return { app: createApi(deps), view, store, logged, logCalls, deps };
}

async function errorOf(res: Response) {
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.ok(Array.isArray(body.error.details), "details is a list");
  return body.error as { code: string; message: string; details: unknown[] };
}

Deno.test("health needs no token and says whether the node is ready", async () => {
  let ready = true;
  const { app } = setup({ ready: () => ready });
  let res = await app.request("/api/v1/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ready: true, node: "pi-a" });
  ready = false;
  res = await app.request("/api/v1/health");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { ready: false, node: "pi-a" });
});

Deno.test("the CA certificate is served to anyone, as a file a phone offers to install", async () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const ca: { pem?: string } = {};
  const { app } = setup({ caCertificate: () => ca.pem });
  let res = await app.request("/api/v1/ca.crt");
  assert.equal(res.status, 503);
  assert.match((await errorOf(res)).message, /not known yet/);
  ca.pem = pem;
  res = await app.request("/api/v1/ca.crt");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-x509-ca-cert");
  assert.match(res.headers.get("content-disposition") ?? "", /fossora-ca\.crt/);
  assert.equal(await res.text(), pem);
});

Deno.test("every other route refuses a missing or wrong token with 401 and how to get it", async (t) => {
  const { app } = setup();
  const routes: [string, string][] = [
    ["GET", "/api/v1/cluster"],
    ["GET", "/api/v1/nodes"],
    ["GET", "/api/v1/services"],
    ["POST", "/api/v1/services"],
    ["GET", "/api/v1/services/whoami"],
    ["DELETE", "/api/v1/services/whoami"],
    ["GET", "/api/v1/services/whoami/logs"],
    ["GET", "/api/v1/token"],
    ["GET", "/metrics"],
    ["GET", "/api/v1/nope"],
  ];
  const headerSets: [string, Record<string, string>][] = [
    ["missing", {}],
    ["wrong", { authorization: "Bearer nope" }],
    ["prefix of the right one", { authorization: `Bearer ${TOKEN.slice(0, 5)}` }],
    ["not bearer", { authorization: `Basic ${TOKEN}` }],
  ];
  for (const [method, path] of routes) {
    for (const [label, headers] of headerSets) {
      await t.step(`${method} ${path}, token ${label}`, async () => {
        const res = await app.request(path, { method, headers });
        assert.equal(res.status, 401);
        assert.equal(res.headers.get("www-authenticate"), "Bearer");
        const err = await errorOf(res);
        assert.equal(err.code, "unauthorized");
        assert.match(err.message, /admin-token/);
      });
    }
  }
});

Deno.test("an API with an empty admin token refuses even an empty bearer", async () => {
  const { app } = setup({ adminToken: "" });
  const res = await app.request("/api/v1/nodes", { headers: { authorization: "Bearer " } });
  assert.equal(res.status, 401);
});

Deno.test("GET /api/v1/cluster gives the cluster id, leader, this node and members", async () => {
  const { app } = setup({ leader: () => "n2" });
  const res = await app.request("/api/v1/cluster", { headers: AUTH });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.id, "cluster-1");
  assert.equal(body.domain, "home.test");
  assert.deepEqual(body.leader, { id: "n2", name: "pi-b" });
  assert.deepEqual(body.node, { id: "n1", name: "pi-a" });
  assert.deepEqual(body.members.map((m: { name: string; role: string }) => [m.name, m.role]), [
    ["pi-a", "voter"],
    ["pi-b", "learner"],
  ]);
});

Deno.test("GET /api/v1/cluster lists the agent's warnings, none when it has none", async () => {
  const warning = "another cluster (c-2, node nas at 10.0.0.9:7440) is on this network";
  const { app } = setup({ warnings: () => [warning] });
  const body = await (await app.request("/api/v1/cluster", { headers: AUTH })).json();
  assert.deepEqual(body.warnings, [warning]);
  const none = await (await setup().app.request("/api/v1/cluster", { headers: AUTH })).json();
  assert.deepEqual(none.warnings, []);
});

Deno.test("GET /api/v1/nodes lists the node records", async () => {
  const { app } = setup();
  const body = await (await app.request("/api/v1/nodes", { headers: AUTH })).json();
  assert.deepEqual(body.nodes.map((n: { name: string; arch: string }) => [n.name, n.arch]), [
    ["pi-a", "arm64"],
    ["pi-b", "amd64"],
  ]);
  assert.equal(typeof body.nodes[0].lastSeen, "string");
});

Deno.test("GET /api/v1/services summarizes every service", async () => {
  const { app } = setup();
  const body = await (await app.request("/api/v1/services", { headers: AUTH })).json();
  assert.deepEqual(body.services.map((s: { name: string }) => s.name), ["mc", "whoami"]);
  const whoami = body.services[1];
  assert.equal(whoami.url, "http://whoami.home.test/");
  assert.equal(whoami.running, 2);
  assert.deepEqual(whoami.nodes, ["pi-a", "pi-b"]);
  assert.deepEqual(body.services[0].published, [25565]);
});

Deno.test("GET /api/v1/services/:name shows its spec and replicas, 404 naming an unknown one", async () => {
  const { app } = setup();
  const res = await app.request("/api/v1/services/whoami", { headers: AUTH });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.spec.image, "example/whoami:1");
  assert.equal(body.generation, 1);
  assert.deepEqual(
    body.replicas.map((r: { replica: number; node: string; containerId: string }) => [
      r.replica,
      r.node,
      r.containerId,
    ]),
    [[0, "pi-a", "c-whoami-0"], [1, "pi-b", "c-whoami-1"]],
  );
  const missing = await app.request("/api/v1/services/ghost", { headers: AUTH });
  assert.equal(missing.status, 404);
  const err = await errorOf(missing);
  assert.equal(err.code, "not_found");
  assert.match(err.message, /"ghost"/);
});

Deno.test("POST /api/v1/services creates, updates and reports unchanged services", async () => {
  const { app, view } = setup();
  const yaml = "name: web\nimage: nginx:1\nports:\n  - container: 80\n    http: true\n";
  const post = (body: string, type?: string) =>
    app.request("/api/v1/services", {
      method: "POST",
      headers: { ...AUTH, ...(type ? { "content-type": type } : {}) },
      body,
    });
  let res = await post(yaml, "application/yaml");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    services: [{ name: "web", generation: 1, created: true, changed: true }],
    warnings: [],
  });
  assert.equal(view.service("web")?.spec.image, "nginx:1");

  res = await post(yaml, "text/plain");
  assert.deepEqual((await res.json()).services[0], {
    name: "web",
    generation: 1,
    created: false,
    changed: false,
  });
  res = await post(JSON.stringify({ name: "web", image: "nginx:2" }), "application/json");
  assert.deepEqual((await res.json()).services[0].generation, 2);
  assert.equal(view.service("web")?.spec.image, "nginx:2");
});

Deno.test("a dry run answers what would change, whether replicas roll, and writes nothing", async () => {
  const { app, store, view } = setup();
  const post = (body: string) =>
    app.request("/api/v1/services?dryRun=1", { method: "POST", headers: AUTH, body });
  let body = await (await post(
    '{"name":"whoami","image":"example/whoami:2","replicas":2,' +
      '"ports":[{"container":8080,"http":true}]}',
  )).json();
  assert.equal(body.dryRun, true);
  assert.deepEqual(body.services[0].changes, [
    { path: "image", before: '"example/whoami:1"', after: '"example/whoami:2"' },
  ]);
  assert.equal(body.services[0].rolls, true);
  assert.equal(body.services[0].generation, 2);
  body = await (await post(
    '{"name":"whoami","image":"example/whoami:1","replicas":5,' +
      '"ports":[{"container":8080,"http":true}]}',
  )).json();
  assert.deepEqual(body.services[0].changes, [{ path: "replicas", before: "2", after: "5" }]);
  assert.equal(body.services[0].rolls, false);
  body = await (await post('{"name":"fresh","image":"x:1"}')).json();
  assert.deepEqual(body.services[0], {
    name: "fresh",
    generation: 1,
    created: true,
    changed: true,
    changes: [],
  });
  const stack = await app.request("/api/v1/stacks?dryRun=1", {
    method: "POST",
    headers: AUTH,
    body: JSON.stringify({ file: "services:\n  app:\n    image: x:1\n", stack: "kv" }),
  });
  assert.deepEqual((await stack.json()).services.map((s: { name: string }) => s.name), [
    "app.kv",
  ]);
  assert.equal(store.writes, 0);
  assert.equal(view.service("fresh"), undefined);
  assert.equal(view.service("whoami")?.spec.image, "example/whoami:1");
});

Deno.test("scale sets the replicas and keeps the rest; a bad count or unknown service is refused", async () => {
  const { app, view } = setup();
  const scale = (name: string, body: string) =>
    app.request(`/api/v1/services/${name}/scale`, { method: "POST", headers: AUTH, body });
  const res = await scale("whoami", '{"replicas":3}');
  assert.equal(res.status, 200);
  assert.equal((await res.json()).replicas, 3);
  assert.equal(view.service("whoami")?.spec.replicas, 3);
  assert.equal(view.service("whoami")?.spec.image, "example/whoami:1");
  for (const bad of ['{"replicas":101}', '{"replicas":-1}', '{"replicas":"2"}', "x", ""]) {
    const refused = await scale("whoami", bad);
    assert.equal(refused.status, 400, bad);
    assert.match((await errorOf(refused)).message, /0 to 100/);
  }
  assert.equal((await scale("ghost", '{"replicas":1}')).status, 404);
  assert.equal(view.service("whoami")?.spec.replicas, 3);
});

Deno.test("restart bumps the generation of a service, 404 for one that does not exist", async () => {
  const { app, view } = setup();
  const restart = (name: string) =>
    app.request(`/api/v1/services/${name}/restart`, { method: "POST", headers: AUTH });
  const res = await restart("whoami");
  assert.deepEqual(await res.json(), { restarted: "whoami" });
  assert.equal(view.service("whoami")?.generation, 2);
  assert.equal((await restart("ghost")).status, 404);
  assert.equal((await restart("..")).status, 404);
});

Deno.test("POST /api/v1/services understands a compose file with any content type", async () => {
  const { app, view } = setup();
  const compose =
    "name: kv\nservices:\n  cache:\n    image: redis:7\n    deploy:\n      replicas: 2\n";
  const res = await app.request("/api/v1/services", {
    method: "POST",
    headers: { ...AUTH, "content-type": "application/octet-stream" },
    body: compose,
  });
  assert.equal(res.status, 200);
  assert.equal(view.service("cache.kv")?.spec.replicas, 2);
  assert.equal(view.service("cache.kv")?.spec.stack, "kv");
});

Deno.test("POST /api/v1/services refuses invalid files whole with every problem, store untouched", async (t) => {
  const { app, view, store } = setup();
  const before = JSON.stringify([...view.serviceMap]);
  const cases: [string, BodyInit, RegExp[]][] = [
    ["bad fields", "name: Bad_Name\nimage: ''\nreplicas: -1\n", [
      /^name$/,
      /^image$/,
      /^replicas$/,
    ]],
    ["YAML syntax", "a: [", [/^$/]],
    ["empty body", "", [/^$/]],
    [
      "compose key fossora cannot honour",
      "name: s\nservices:\n  web:\n    image: nginx\n    ipc: host\n",
      [
        /^services\.web\.ipc$/,
      ],
    ],
    ["compose without a stack name", "services:\n  web:\n    image: nginx\n", [/^$/]],
    ["one bad service in a list", '[{"name":"ok","image":"x:1"},{"name":"no image"}]', [/\[1\]/]],
    ["not UTF-8", new Uint8Array([0xff, 0xfe, 0x41]), [/^$/]],
  ];
  for (const [label, body, paths] of cases) {
    await t.step(label, async () => {
      const res = await app.request("/api/v1/services", { method: "POST", headers: AUTH, body });
      assert.equal(res.status, 400);
      const err = await errorOf(res);
      assert.equal(err.code, "invalid_spec");
      const details = err.details as { path: string; message: string }[];
      assert.ok(details.length >= paths.length, JSON.stringify(details));
      for (const d of details) assert.equal(typeof d.message, "string");
      for (const p of paths) {
        assert.ok(details.some((d) => p.test(d.path)), `${p} in ${JSON.stringify(details)}`);
      }
    });
  }
  assert.equal(store.writes, 0);
  assert.equal(JSON.stringify([...view.serviceMap]), before);
});

Deno.test("POST /api/v1/services refuses a body over the limit with 413, by header or by count", async () => {
  const { app, store } = setup({ maxBodyBytes: 64 });
  const big = "name: web\nimage: nginx:1\n" + "#".repeat(100) + "\n";
  let res = await app.request("/api/v1/services", {
    method: "POST",
    headers: { ...AUTH, "content-length": String(big.length) },
    body: big,
  });
  assert.equal(res.status, 413);
  assert.equal((await errorOf(res)).code, "too_large");

  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      c.enqueue(enc.encode("# padding padding padding\n"));
    },
  });
  res = await app.request("/api/v1/services", { method: "POST", headers: AUTH, body: endless });
  assert.equal(res.status, 413);
  assert.equal((await errorOf(res)).code, "too_large");
  assert.ok(pulled < 10, `pulled ${pulled} chunks`);
  assert.equal(store.writes, 0);
});

Deno.test("an ApiError from the store becomes its response", async () => {
  const { ApiError } = await import("./errors.ts");
  const { app } = setup({
    services: {
      apply: () => Promise.reject(new ApiError(409, "port_taken", "port 25565 is used by mc")),
      remove: () => Promise.resolve(false),
      restart: () => Promise.resolve(false),
      applyStack: () => Promise.reject(new Error("not used")),
      removeStack: () => Promise.resolve([]),
    },
  });
  const res = await app.request("/api/v1/services", {
    method: "POST",
    headers: AUTH,
    body: '{"name":"x","image":"x:1"}',
  });
  assert.equal(res.status, 409);
  assert.equal((await errorOf(res)).code, "port_taken");
});

Deno.test("DELETE /api/v1/services/:name removes it, 404 when there is none", async () => {
  const { app, view } = setup();
  let res = await app.request("/api/v1/services/mc", { method: "DELETE", headers: AUTH });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { removed: "mc" });
  assert.equal(view.service("mc"), undefined);
  res = await app.request("/api/v1/services/mc", { method: "DELETE", headers: AUTH });
  assert.equal(res.status, 404);
  assert.match((await errorOf(res)).message, /"mc"/);
});

Deno.test("DELETE of a name no service can have is a 404 that never reaches the store", async () => {
  const { app } = setup();
  for (const name of ["a%2Fb", "..", "UPPER", "x".repeat(64)]) {
    const res = await app.request(`/api/v1/services/${name}`, { method: "DELETE", headers: AUTH });
    assert.equal(res.status, 404, name);
    assert.equal((await errorOf(res)).code, "not_found");
  }
});

Deno.test("GET /api/v1/token gives the join token", async () => {
  const { app } = setup();
  const res = await app.request("/api/v1/token", { headers: AUTH });
  assert.deepEqual(await res.json(), { token: "join-secret" });
});

Deno.test("join routes need no admin token and say when this node cannot take a request", async () => {
  const { app } = setup({ join: () => undefined });
  for (const [path, method] of [["/api/v1/join/info", "GET"], ["/api/v1/join", "POST"]]) {
    const res = await app.request(path, { method, body: method === "POST" ? "{}" : undefined });
    assert.equal(res.status, 503, path);
    assert.match((await errorOf(res)).message, /not a cluster member yet/);
  }
  const res = await app.request("/api/v1/join", { method: "POST", body: "not json" });
  assert.equal(res.status, 400);
  assert.equal((await errorOf(res)).code, "bad_request");
});

Deno.test("GET /metrics needs the token and renders the API's gauges with the registry", async () => {
  const metrics = new Registry();
  metrics.counter("fossora_test_total", "A counter of the agent.").inc({}, 3);
  const { app } = setup({ metrics, etcdHealthy: () => false });
  assert.equal((await app.request("/metrics")).status, 401);
  const res = await app.request("/metrics", { headers: AUTH });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^fossora_test_total 3$/m);
  assert.match(text, /^fossora_services 2$/m);
  assert.match(text, /^fossora_replicas\{state="running"\} 2$/m);
  assert.match(text, /^fossora_replicas\{state="exited"\} 1$/m);
  assert.match(text, /^fossora_replicas\{state="error"\} 0$/m);
  assert.match(text, /^fossora_etcd_healthy 0$/m);
  assert.match(text, /^fossora_node_ready 1$/m);
});

Deno.test("reads say when they may be stale (etcd out of reach); writes and errors do not", async () => {
  const { app } = setup({ etcdHealthy: () => false });
  const read = await app.request("/api/v1/services", { headers: AUTH });
  assert.equal(read.status, 200);
  assert.match(read.headers.get(STALE_HEADER) ?? "", /last copy it saw, and may be out of date/);
  await read.body?.cancel();
  const missing = await app.request("/api/v1/services/nope", { headers: AUTH });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get(STALE_HEADER), null);
  await missing.body?.cancel();
  const healthy = await setup().app.request("/api/v1/services", { headers: AUTH });
  assert.equal(healthy.headers.get(STALE_HEADER), null);
  await healthy.body?.cancel();
});

Deno.test("unknown routes get a 404 JSON error and wrong methods a 405 with Allow", async () => {
  const { app } = setup();
  let res = await app.request("/api/v1/nope", { headers: AUTH });
  assert.equal(res.status, 404);
  assert.equal((await errorOf(res)).code, "not_found");
  res = await app.request("/api/v1/nodes", { method: "PUT", headers: AUTH });
  assert.equal(res.status, 405);
  assert.match(res.headers.get("allow") ?? "", /GET/);
  assert.equal((await errorOf(res)).code, "method_not_allowed");
  res = await app.request("/api/v1/services/whoami", { method: "POST", headers: AUTH });
  assert.equal(res.status, 405);
  assert.match(res.headers.get("allow") ?? "", /DELETE/);
  await res.body?.cancel();
});

Deno.test("an unexpected error is logged and answered 500 without its stack", async () => {
  const { app, logged } = setup({
    joinToken: () => Promise.reject(new Error("etcd exploded at secret/place")),
  });
  const res = await app.request("/api/v1/token", { headers: AUTH });
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.doesNotMatch(text, /exploded|secret\/place|at /);
  assert.equal(JSON.parse(text).error.code, "internal");
  assert.ok(logged.some((l) => l.includes("etcd exploded")), logged.join("\n"));
});
