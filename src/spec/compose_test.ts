import assert from "node:assert/strict";
import { type ComposeOutput, composeToServices } from "./compose.ts";

function read(doc: Record<string, unknown>): ComposeOutput & { specs: unknown[] } {
  const out: ComposeOutput = { problems: [], warnings: [] };
  const specs = composeToServices(doc, out).map((c) => c.spec);
  return { ...out, specs };
}

Deno.test("the first container-only port becomes the http port; later ones are kept with a warning", () => {
  const { specs, problems, warnings } = read({
    services: { web: { image: "nginx", ports: ["9000:9000", "80", "81"] } },
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(specs, [{
    name: "web",
    image: "nginx",
    replicas: 1,
    ports: [
      { container: 9000, http: false, published: 9000 },
      { container: 80, http: true },
      { container: 81, http: false },
    ],
    env: {},
    volumes: [],
    placement: {},
  }]);
  assert.deepEqual(warnings, [{
    path: "services.web.ports[2]",
    message:
      'container port 81 has no host port, and fossora does not publish on random host ports: it is kept but nothing outside the container reaches it; write "81:81" to publish it',
  }]);
});

Deno.test("x-fossora.http picks the http port, adding it when ports lacks it", () => {
  const picked = read({
    services: { a: { image: "x", ports: ["80", "8080:8080"], "x-fossora": { http: 8080 } } },
  });
  assert.deepEqual(picked.problems, []);
  assert.deepEqual((picked.specs[0] as { ports: unknown }).ports, [
    { container: 80, http: false },
    { container: 8080, http: true, published: 8080 },
  ]);
  const added = read({ services: { a: { image: "x", "x-fossora": { http: 3000 } } } });
  assert.deepEqual((added.specs[0] as { ports: unknown }).ports, [{ container: 3000, http: true }]);
  const none = read({
    services: { a: { image: "x", ports: ["80"], "x-fossora": { http: false } } },
  });
  assert.deepEqual((none.specs[0] as { ports: unknown }).ports, [{ container: 80, http: false }]);
  assert.equal(none.warnings.length, 1);
});

Deno.test("x-fossora.https_redirect maps to httpsRedirect on the http port", async (t) => {
  const cases: { name: string; service: Record<string, unknown>; ports: unknown }[] = [
    {
      name: "the first container-only port",
      service: { image: "x", ports: ["8080:8080", "80"], "x-fossora": { https_redirect: true } },
      ports: [
        { container: 8080, http: false, published: 8080 },
        { container: 80, http: true, httpsRedirect: true },
      ],
    },
    {
      name: "the port x-fossora.http picks",
      service: {
        image: "x",
        ports: ["80", "8080:8080"],
        "x-fossora": { http: 8080, https_redirect: true },
      },
      ports: [
        { container: 80, http: false },
        { container: 8080, http: true, published: 8080, httpsRedirect: true },
      ],
    },
    {
      name: "the port x-fossora.http adds",
      service: { image: "x", "x-fossora": { http: 3000, https_redirect: true } },
      ports: [{ container: 3000, http: true, httpsRedirect: true }],
    },
    {
      name: "false, stored as absent",
      service: { image: "x", ports: ["80"], "x-fossora": { https_redirect: false } },
      ports: [{ container: 80, http: true }],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { specs, problems } = read({ services: { a: c.service } });
      assert.deepEqual(problems, []);
      assert.deepEqual((specs[0] as { ports: unknown }).ports, c.ports);
    });
  }
});

Deno.test("x-fossora.https_redirect is refused without an http port or when not a boolean", async (t) => {
  const none =
    'the service has no http port to redirect to https; give it one with a container-only port such as ports: ["80"], or with x-fossora.http';
  const cases: { name: string; service: Record<string, unknown>; message: string }[] = [
    {
      name: "no ports",
      service: { image: "x", "x-fossora": { https_redirect: true } },
      message: none,
    },
    {
      name: "published ports only",
      service: { image: "x", ports: ["2222:22"], "x-fossora": { https_redirect: true } },
      message: none,
    },
    {
      name: "http: false",
      service: { image: "x", ports: ["80"], "x-fossora": { http: false, https_redirect: false } },
      message: none,
    },
    {
      name: "a string",
      service: { image: "x", ports: ["80"], "x-fossora": { https_redirect: "yes" } },
      message: 'expected true or false, found a string ("yes")',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const { problems } = read({ services: { a: c.service } });
      assert.deepEqual(problems, [{
        path: "services.a.x-fossora.https_redirect",
        message: c.message,
      }]);
    });
  }
});

Deno.test("x-fossora sets placement and replicas, and refuses replicas set twice", () => {
  const ok = read({
    services: { a: { image: "x", "x-fossora": { placement: { sites: ["home-b"] }, replicas: 3 } } },
  });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.specs[0], {
    name: "a",
    image: "x",
    replicas: 3,
    ports: [],
    env: {},
    volumes: [],
    placement: { sites: ["home-b"] },
  });
  const twice = read({
    services: {
      a: { image: "x", deploy: { replicas: 2 }, "x-fossora": { replicas: 3, http: true, gpu: 1 } },
    },
  });
  assert.deepEqual(twice.problems, [
    {
      path: "services.a.x-fossora.gpu",
      message: "unknown key 'gpu'; known keys are http, https_redirect, placement, replicas",
    },
    {
      path: "services.a.x-fossora.http",
      message:
        "expected the container port to serve over http, or false for none, found a boolean (true)",
    },
    {
      path: "services.a.x-fossora.replicas",
      message: "replicas is also set at services.a.deploy.replicas; set it in one place",
    },
  ]);
});

Deno.test("deploy keys other than replicas are reported by path", () => {
  const { problems } = read({
    services: { a: { image: "x", deploy: { replicas: 1, placement: {}, resources: {} } } },
  });
  assert.deepEqual(problems, [
    {
      path: "services.a.deploy.placement",
      message: "fossora does not understand this compose key; remove it (use x-fossora.placement)",
    },
    {
      path: "services.a.deploy.resources",
      message: "fossora does not understand this compose key; remove it",
    },
  ]);
});

Deno.test("top-level keys: version and name warn, x- warns, volumes declares, others are problems", () => {
  const { problems, warnings, specs } = read({
    version: "3",
    name: "stack",
    "x-base": { image: "x" },
    services: { a: { image: "x", volumes: ["data:/data"], "x-note": "hi" } },
    volumes: { data: null, spare: {}, ext: { external: true } },
    secrets: {},
  });
  assert.deepEqual(problems, [
    { path: "secrets", message: "fossora does not understand this compose key; remove it" },
    {
      path: "volumes.ext.external",
      message: "fossora does not understand this compose key; remove it",
    },
  ]);
  assert.deepEqual(warnings, [
    { path: "version", message: "is obsolete in compose files and is ignored" },
    { path: "name", message: "is ignored: fossora names services by their keys" },
    { path: "x-base", message: "is an extension field and is ignored" },
    { path: "services.a.x-note", message: "is an extension field and is ignored" },
    { path: "volumes.spare", message: "is declared but no service mounts it; it is ignored" },
    { path: "volumes.ext", message: "is declared but no service mounts it; it is ignored" },
  ]);
  assert.deepEqual((specs[0] as { volumes: unknown }).volumes, [{ name: "data", path: "/data" }]);
});

Deno.test("a service without a definition is a problem, and so is a bad image", () => {
  const { problems } = read({ services: { a: null, b: { image: "nginx:${TAG}" } } });
  assert.deepEqual(problems, [
    {
      path: "services.a",
      message: "expected a service: a mapping with at least image, found null (an empty value)",
    },
    {
      path: "services.b.image",
      message:
        "uses the variable ${TAG}, which docker compose fills from the shell or .env; fossora has neither: write the value itself (and $$ for a literal $)",
    },
  ]);
});

Deno.test("a container port listed twice is one problem, not two http ports", () => {
  const { problems } = read({ services: { a: { image: "x", ports: ["80", "8080:80"] } } });
  assert.deepEqual(problems, [{
    path: "services.a.ports[1]",
    message: "container port 80 is already listed at services.a.ports[0]; list each port once",
  }]);
});
