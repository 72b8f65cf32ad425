import assert from "node:assert/strict";
import type { ServiceSpec } from "../state/types.ts";
import { type ComposeInput, type ComposeOutput, composeToStack } from "./compose.ts";
import { parseServiceFile } from "./parse.ts";
import { formatProblem } from "./problems.ts";

/** Reads `doc` as the stack `s` unless `input` says otherwise. */
function read(doc: Record<string, unknown>, input: ComposeInput = { stack: "s" }) {
  const out: ComposeOutput = { problems: [], warnings: [] };
  const { services, stack } = composeToStack(doc, input, out);
  return { ...out, specs: services.map((c) => c.spec), stack };
}

/** The lines a user sees, for assertions that match on text. */
function lines(problems: ComposeOutput["problems"]): string[] {
  return problems.map(formatProblem);
}

/** The one service of `doc`, which must be read without a problem. */
function spec(doc: Record<string, unknown>, input?: ComposeInput): ServiceSpec {
  const r = read(doc, input);
  assert.deepEqual(r.problems, []);
  assert.equal(r.specs.length, 1);
  return r.specs[0];
}

const RESERVED: ComposeInput["reservedPorts"] = {
  tcp: new Map([[80, "proxy"], [443, "HTTPS proxy"], [53, "DNS"], [7440, "API"]]),
  udp: new Map([[53, "DNS"], [7440, "heartbeat"]]),
};

Deno.test("the first container-only port becomes the http port; later ones (UDP too) are kept with a warning", () => {
  const { specs, problems, warnings } = read({
    services: { web: { image: "nginx", ports: ["9000:9000", "80", "81", "514/udp"] } },
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(specs, [{
    name: "web.s",
    image: "nginx",
    replicas: 1,
    ports: [
      { container: 9000, http: false, published: 9000 },
      { container: 80, http: true },
      { container: 81, http: false },
      { container: 514, http: false, protocol: "udp" },
    ],
    env: {},
    volumes: [],
    placement: {},
    stack: "s",
    front: true,
  }]);
  assert.deepEqual(warnings, [{
    path: "services.web.ports[2]",
    message: "container port 81 has no host port, and fossora does not publish on random host " +
      `ports: the stack's services reach it by name; write "81:81" to publish it on every node`,
  }, {
    path: "services.web.ports[3]",
    message: "container port 514 has no host port, and fossora does not publish on random host " +
      `ports: the stack's services reach it by name; write "514:514/udp" to publish it on every node`,
  }]);
});

Deno.test("x-fossora.http picks the http port, adding it when ports lacks it", () => {
  const picked = read({
    services: { a: { image: "x", ports: ["80", "8080:8080"], "x-fossora": { http: 8080 } } },
  });
  assert.deepEqual(picked.problems, []);
  assert.deepEqual(picked.specs[0].ports, [
    { container: 80, http: false },
    { container: 8080, http: true, published: 8080 },
  ]);
  assert.deepEqual(picked.warnings.map((w) => w.path), ["services.a.ports[0]"]);
  const added = read({ services: { a: { image: "x", "x-fossora": { http: 3000 } } } });
  assert.deepEqual(added.specs[0].ports, [{ container: 3000, http: true }]);
  const none = read({
    services: { a: { image: "x", ports: ["80"], "x-fossora": { http: false } } },
  });
  assert.deepEqual(none.specs[0].ports, [{ container: 80, http: false }]);
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
      assert.deepEqual(specs[0].ports, c.ports);
    });
  }
});

Deno.test("x-fossora.https_redirect is refused without an http port or when not a boolean", async (t) => {
  const none = "the service has no http port to redirect to https; give it one with x-fossora.http";
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
    name: "a.s",
    image: "x",
    replicas: 3,
    ports: [],
    env: {},
    volumes: [],
    placement: { sites: ["home-b"] },
    stack: "s",
  });
  const twice = read({
    services: {
      a: { image: "x", deploy: { replicas: 2 }, "x-fossora": { replicas: 3, http: true, gpu: 1 } },
    },
  });
  assert.deepEqual(twice.problems, [
    {
      path: "services.a.x-fossora.gpu",
      message: "unknown key 'gpu'; known keys are http, https_redirect, placement, replicas, front",
    },
    {
      path: "services.a.x-fossora.http",
      message:
        "expected the container port to serve over http, or false for none, found a boolean (true)",
    },
    {
      path: "services.a.x-fossora.replicas",
      message: "the number of replicas is set in more than one place (deploy.replicas, scale, " +
        "x-fossora.replicas); set it in one",
    },
  ]);
});

Deno.test("deploy's limits, reservations and constraints reach the spec; its unknown keys are problems", () => {
  const s = spec({
    services: {
      a: {
        image: "x",
        mem_limit: "1g",
        deploy: {
          replicas: 2,
          resources: { limits: { cpus: "0.5" }, reservations: { memory: "256M" } },
          placement: { constraints: ["node.labels.disk == ssd"] },
        },
      },
    },
  });
  assert.equal(s.replicas, 2);
  assert.deepEqual(s.resources, { memory: 256 * 1024 * 1024 });
  assert.deepEqual(s.container, { limits: { memory: 1024 ** 3, cpus: 0.5 } });
  assert.deepEqual(s.placement, {
    constraints: [{ attribute: "node.labels.disk", op: "==", value: "ssd" }],
  });
  assert.deepEqual(read({ services: { a: { image: "x", deploy: { bogus: 1 } } } }).problems, [{
    path: "services.a.deploy.bogus",
    message: "fossora does not understand this compose key; remove it",
  }]);
});

Deno.test("top-level keys: version warns, x- warns, volumes declares, unknown keys are problems", () => {
  const { problems, warnings, specs } = read({
    version: "3",
    "x-base": { image: "x" },
    services: { a: { image: "x", volumes: ["data:/data"], "x-note": "hi" } },
    volumes: { data: null, spare: {}, ext: { external: true } },
    secrets: {},
    include: ["other.yml"],
  });
  assert.deepEqual(problems, [
    { path: "include", message: "fossora does not understand this compose key; remove it" },
  ]);
  assert.deepEqual(lines(warnings), [
    "x-base: is an extension field and is ignored",
    "version: is obsolete in compose files and is ignored",
    "volumes.ext: external is ignored: fossora keeps the volume itself, on the node that runs " +
    "the service",
    "services.a.x-note: is an extension field and is ignored",
    "volumes.spare: is declared but no service mounts it; it is ignored",
    "volumes.ext: is declared but no service mounts it; it is ignored",
  ]);
  assert.deepEqual(specs[0].volumes, [{ name: "data", path: "/data" }]);
});

Deno.test("a service without a definition is a problem, and so is an image an unset variable spoils", () => {
  const { problems, warnings } = read({ services: { a: null, b: { image: "nginx:${TAG}" } } });
  assert.deepEqual(lines(problems), [
    "services.a: expected a service: a mapping with at least image, found null (an empty value)",
    "services.b.image: 'nginx:' is not a valid image reference: tag '' may hold only letters, " +
    "digits, '_', '.' and '-' (at most 128, not starting with '.' or '-'); write it like " +
    "traefik/whoami:v1.10",
  ]);
  assert.deepEqual(warnings.map((w) => w.path), ["services.b.image"]);
});

Deno.test("a container port listed twice is one problem, not two http ports", () => {
  const { problems } = read({ services: { a: { image: "x", ports: ["80", "8080:80"] } } });
  assert.deepEqual(problems, [{
    path: "services.a.ports[1]",
    message: "container port 80 is already listed at services.a.ports[0]; list each port once",
  }]);
});

Deno.test("build without image is refused with what to do; build beside image is ignored with a warning", () => {
  assert.deepEqual(read({ services: { a: { build: "." } } }).problems, [{
    path: "services.a.build",
    message: "fossora runs images: build and push it, then set image:",
  }]);
  assert.deepEqual(read({ services: { a: {} } }).problems, [{
    path: "services.a.image",
    message: "is missing: give the image to run, e.g. image: nginx:1.27",
  }]);
  const both = read({ services: { a: { build: ".", image: "me/app:1" } } });
  assert.deepEqual(both.problems, []);
  assert.deepEqual(lines(both.warnings), [
    "services.a.build: is ignored: fossora pulls the image named by image: (build and push it " +
    "first)",
  ]);
});

// --- the stack's name

Deno.test("the stack is named by the deploy, else by the file's name:, and its services are KEY.STACK", () => {
  const given = read({ name: "other", services: { web: { image: "nginx" } } }, { stack: "blog" });
  assert.deepEqual(given.problems, []);
  assert.deepEqual(given.stack, { name: "blog", files: {} });
  assert.deepEqual(given.specs.map((s) => [s.name, s.stack]), [["web.blog", "blog"]]);
  const written = read({ name: "My_Blog", services: { web: { image: "nginx" } } }, {});
  assert.deepEqual(written.problems, []);
  assert.deepEqual(written.specs.map((s) => [s.name, s.stack]), [["web.my-blog", "my-blog"]]);
});

Deno.test("a compose file without a stack name, or with a bad one, is refused with what to do", () => {
  const missing = read({ services: { web: { image: "nginx" } } }, {});
  assert.deepEqual(missing.stack, undefined);
  assert.deepEqual(lines(missing.problems), [
    "the stack has no name: deploy it with `fossora deploy FILE --stack NAME` (or " +
    "?stack=NAME), or add name: NAME at the top of the file",
  ]);
  assert.deepEqual(
    lines(
      read({ services: { web: { image: "x" } } }, { stack: "Bad_Name" })
        .problems,
    ),
    [
      "stack name 'Bad_Name' must be a DNS label (a-z, 0-9, '-') other than 'node'",
    ],
  );
  assert.deepEqual(lines(read({ name: "node", services: { web: { image: "x" } } }, {}).problems), [
    'name: expected a project name such as nextcloud, found a string ("node")',
  ]);
});

// --- variables

Deno.test("variables are filled before the file is read: ${VAR:-default}, $VAR, $$", () => {
  const s = spec({
    services: {
      web: {
        image: "nginx:${TAG:-1.27}",
        command: "echo $$HOME ${GREETING}",
        environment: { A: "${A}-x", B: "$A", PORT: "${PORT:-8080}" },
        ports: ["${PORT:-8080}:80"],
        deploy: { replicas: "${REPLICAS:-2}" },
      },
    },
  }, { stack: "s", variables: { A: "a", GREETING: "hi there" } });
  assert.equal(s.replicas, 2);
  assert.equal(s.image, "nginx:1.27");
  // A variable's value is not split into words again: it was filled before the split.
  assert.deepEqual(s.command, ["echo", "$HOME", "hi", "there"]);
  assert.deepEqual(s.env, { A: "a-x", B: "a", PORT: "8080" });
  // No port is known to be http, so the node checks whether the published one answers HTTP.
  assert.deepEqual(s.ports, [{ container: 80, http: false, published: 8080, detectHttp: true }]);
});

Deno.test("${VAR:?message} unset is a problem that says what to set", () => {
  const r = read({
    services: { db: { image: "postgres", environment: { PW: "${DB_PASSWORD:?give a password}" } } },
  });
  assert.deepEqual(lines(r.problems), [
    "services.db.environment.PW: needs the variable DB_PASSWORD set and not empty: give a " +
    "password; set it in your environment or in .env beside the file",
  ]);
});

Deno.test("an unset variable is empty, with one warning however often it is used", () => {
  const r = read({
    services: {
      a: { image: "x", environment: { A: "${UNSET}", B: "$UNSET/x", C: "${OTHER}" } },
      b: { image: "x", command: ["echo", "${UNSET}"] },
    },
  });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.specs[0].env, { A: "", B: "/x", C: "" });
  assert.deepEqual(r.specs[1].command, ["echo", ""]);
  assert.deepEqual(r.warnings.map((w) => w.path), [
    "services.a.environment.A",
    "services.a.environment.C",
  ]);
  assert.match(r.warnings[0].message, /^the variable UNSET is not set, so it is empty/);
  assert.match(r.warnings[1].message, /^the variable OTHER is not set/);
});

// --- profiles

Deno.test("a service in a profile is deployed only when COMPOSE_PROFILES names one of its profiles", () => {
  const doc = {
    services: { web: { image: "nginx" }, debug: { image: "busybox", profiles: ["debug"] } },
  };
  const off = read(doc);
  assert.deepEqual(off.specs.map((s) => s.name), ["web.s"]);
  assert.deepEqual(lines(off.warnings), [
    "services.debug.profiles: the service is not deployed: none of its profiles (debug) is " +
    "active; set COMPOSE_PROFILES to deploy it, as with docker compose",
  ]);
  const on = read(doc, { stack: "s", variables: { COMPOSE_PROFILES: "tools, debug" } });
  assert.deepEqual(on.specs.map((s) => s.name), ["web.s", "debug.s"]);
  assert.deepEqual(on.warnings, []);
  assert.deepEqual(
    lines(
      read({ services: { ...doc.services, web: { image: "nginx", depends_on: ["debug"] } } })
        .problems,
    ),
    [
      "services.web.depends_on[0]: 'debug' is not deployed, since none of its profiles is " +
      "active: set COMPOSE_PROFILES to deploy it too, or remove it here",
    ],
  );
  assert.deepEqual(read({ services: { a: { image: "x", profiles: "debug" } } }).problems, [{
    path: "services.a.profiles",
    message: 'expected a list of profile names, found a string ("debug")',
  }]);
});

// --- env_file

Deno.test("env_file comes from the files the CLI sent; environment wins over it", () => {
  const s = spec({
    services: {
      web: {
        image: "nginx",
        env_file: [".env", "db.env"],
        environment: { A: "from-environment" },
      },
    },
  }, { stack: "s", files: { ".env": "A=1\nB=2\n", "db.env": "B=3\nC=4\n" } });
  assert.deepEqual(s.env, { A: "from-environment", B: "3", C: "4" });
});

Deno.test("a missing env_file is a problem, unless it says required: false", () => {
  const missing = read({ services: { web: { image: "nginx", env_file: "missing.env" } } });
  assert.deepEqual(lines(missing.problems), [
    "services.web.env_file: the env file missing.env was not sent with the compose file: " +
    "deploy with `fossora deploy FILE`, which reads it beside the file (or write the variables " +
    "under environment)",
  ]);
  const optional = read({
    services: {
      web: { image: "nginx", env_file: [{ path: "missing.env", required: false }, "a.env"] },
    },
  }, { stack: "s", files: { "a.env": "A=1" } });
  assert.deepEqual([optional.problems, optional.warnings], [[], []]);
  assert.deepEqual(optional.specs[0].env, { A: "1" });
});

// --- secrets and configs

Deno.test("secrets and configs come from sent files, variables or content, and are mounted where compose mounts them", () => {
  const r = read({
    services: {
      web: {
        image: "nginx",
        secrets: ["pw", { source: "key", target: "/etc/key", uid: 1000, gid: "1000" }],
        configs: ["conf", { source: "app", target: "app.conf" }],
      },
    },
    secrets: { pw: { file: "./pw.txt" }, key: { environment: "KEY" } },
    configs: { conf: { content: "a=1" }, app: { file: "./app.conf" } },
  }, {
    stack: "s",
    files: { "./pw.txt": "hunter2", "./app.conf": "x=2" },
    variables: { KEY: "k3y" },
  });
  assert.deepEqual([r.problems, r.warnings], [[], []]);
  assert.deepEqual(r.specs[0].files, [
    { name: "pw", path: "/run/secrets/pw", secret: true },
    { name: "key", path: "/etc/key", secret: true, uid: "1000", gid: "1000" },
    { name: "conf", path: "/conf", secret: false },
    { name: "app", path: "/app.conf", secret: false },
  ]);
  assert.deepEqual(r.stack, {
    name: "s",
    files: {
      "secret:pw": { secret: true, content: "hunter2" },
      "secret:key": { secret: true, content: "k3y" },
      "config:conf": { secret: false, content: "a=1" },
      "config:app": { secret: false, content: "x=2" },
    },
  });
  // The content never sits in the service itself.
  assert.doesNotMatch(JSON.stringify(r.specs), /hunter2|k3y/);
});

Deno.test("a secret whose file was not sent, whose variable is unset, or that is external, is refused", () => {
  const r = read({
    services: {
      web: { image: "nginx", secrets: [{ source: "b", uid: { id: 1 } }, "undeclared"] },
    },
    secrets: {
      a: { file: "./a.txt" },
      b: { environment: "UNSET" },
      c: { external: true },
      d: { content: "secrets take no content" },
    },
  });
  assert.deepEqual(lines(r.problems), [
    "secrets.a.file: ./a.txt was not sent with the compose file: deploy with `fossora deploy " +
    "FILE`, which reads it beside the file",
    "secrets.b.environment: the variable UNSET is not set; set it in your environment or .env",
    "secrets.c: external ones are not supported: give the content with file: PATH",
    "secrets.d: expected { file: PATH }, found a mapping",
    "services.web.secrets[0].uid: expected a user or group id such as 1000, found a mapping",
    "services.web.secrets[1]: secret 'undeclared' is not declared under the top-level secrets; " +
    "declare it with file: PATH",
  ]);
});

// --- the front service

Deno.test("the front is the service marked x-fossora.front, else the one named like the stack, else the only http one, else the only one publishing a port", () => {
  const fronts = (doc: Record<string, unknown>) =>
    read(doc).specs.filter((s) => s.front).map((s) => s.name);
  const web = { image: "nginx", ports: ["80"] };
  const api = { image: "api", ports: ["3000"] };
  assert.deepEqual(
    fronts({ services: { web, api: { ...api, "x-fossora": { front: true } } } }),
    ["api.s"],
  );
  assert.deepEqual(fronts({ services: { web, s: { image: "x" } } }), ["s.s"]);
  assert.deepEqual(fronts({ services: { web, db: { image: "postgres" } } }), ["web.s"]);
  assert.deepEqual(fronts({ services: { web, api } }), []);
  // No http port: the only service with a published port, which may turn out to answer HTTP.
  const media = { image: "jellyfin", ports: ["8096:8096"] };
  assert.deepEqual(fronts({ services: { media, db: { image: "postgres" } } }), ["media.s"]);
  assert.deepEqual(fronts({ services: { media, other: media } }), []);
  assert.deepEqual(fronts({ services: { media, web } }), ["web.s"]);
  assert.deepEqual(
    read({
      services: {
        web: { ...web, "x-fossora": { front: true } },
        api: { ...api, "x-fossora": { front: true } },
      },
    }).problems,
    [{ path: "services.api", message: "x-fossora.front is set on 2 services; set it on one" }],
  );
});

// --- fossora's own ports

Deno.test("a port the agents use is not published, with a warning; the proxy's port 80 becomes the http port", () => {
  const r = read({
    services: {
      pihole: {
        image: "pihole/pihole",
        ports: ["53:53/tcp", "53:53/udp", "67:67/udp", "80:80", "443:443"],
      },
    },
  }, { stack: "s", reservedPorts: RESERVED });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.specs[0].ports, [
    { container: 53, http: false },
    { container: 53, http: false, protocol: "udp" },
    { container: 67, http: false, published: 67, protocol: "udp" },
    { container: 80, http: true },
    { container: 443, http: false },
  ]);
  assert.equal(r.specs[0].front, true);
  assert.deepEqual(lines(r.warnings), [
    "services.pihole.ports[0]: port 53 is fossora's own (DNS) on every node, so it is not " +
    "published: the stack's services still reach it by name",
    "services.pihole.ports[1]: UDP port 53 is fossora's own (DNS) on every node, so it is not " +
    "published: the stack's services still reach it by name",
    "services.pihole.ports[3]: port 80 is fossora's own (proxy) on every node, so it is not " +
    "published: the service is reached at http://pihole.s.DOMAIN/ instead",
    "services.pihole.ports[4]: port 443 is fossora's own (HTTPS proxy) on every node, so it is " +
    "not published: the stack's services still reach it by name",
  ]);
});

Deno.test("port 80 stays a plain port when the service already has an http port", () => {
  const r = read({
    services: { web: { image: "x", ports: ["3000", "80:80"] } },
  }, { stack: "s", reservedPorts: RESERVED });
  assert.deepEqual(r.specs[0].ports, [{ container: 3000, http: true }, {
    container: 80,
    http: false,
  }]);
  assert.match(r.warnings[0].message, /the stack's services still reach it by name$/);
});

// --- names

Deno.test("a key that is not a DNS label is served by its DNS form, with a warning, and the key kept as an alias", () => {
  const r = read({
    services: {
      db_server: { image: "postgres" },
      web: { image: "nginx", depends_on: ["db_server"] },
    },
  });
  assert.deepEqual(r.problems, []);
  assert.equal(r.specs[0].name, "db-server.s");
  assert.deepEqual(r.specs[0].aliases, ["db_server"]);
  assert.deepEqual(r.specs[1].dependsOn, [{ service: "db_server", condition: "started" }]);
  assert.deepEqual(lines(r.warnings), [
    "services.db_server: 'db_server' is not a DNS name, so the service is 'db-server' in the " +
    "cluster; the stack's containers still reach it as db_server",
  ]);
  assert.deepEqual(lines(read({ services: { __: { image: "x" } } }).problems), [
    "services.__: '__' cannot be made a DNS name; name the service with letters, digits and '-'",
  ]);
});

Deno.test("network aliases are kept, networks themselves ignored with a warning", () => {
  const s = read({
    services: { db: { image: "x", networks: { back: { aliases: ["database"] }, front: null } } },
  });
  assert.deepEqual(s.specs[0].aliases, ["database"]);
  assert.deepEqual(lines(s.warnings), [
    "services.db.networks: is ignored: every service of the stack reaches every other by its " +
    "name, on any node (the aliases are kept)",
  ]);
});

// --- depends_on

Deno.test("depends_on as a list or with conditions; bad references and conditions are refused", () => {
  const ok = read({
    services: {
      db: { image: "postgres" },
      migrate: { image: "x" },
      web: {
        image: "nginx",
        depends_on: {
          db: { condition: "service_healthy" },
          migrate: { condition: "service_completed_successfully" },
        },
      },
      worker: { image: "x", depends_on: ["db"] },
    },
  });
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.specs.map((s) => s.dependsOn), [
    undefined,
    undefined,
    [{ service: "db", condition: "healthy" }, { service: "migrate", condition: "completed" }],
    [{ service: "db", condition: "started" }],
  ]);
  const bad = read({
    services: {
      db: { image: "postgres" },
      web: {
        image: "nginx",
        depends_on: { cache: {}, db: { condition: "bogus" }, web: {} },
      },
      job: { image: "x", depends_on: "db" },
      cron: { image: "x", depends_on: [{ db: null }] },
    },
  });
  assert.deepEqual(lines(bad.problems), [
    "services.web.depends_on.cache: 'cache' is not a service of this file; list services of " +
    "the file only",
    "services.web.depends_on.db: expected service_started, service_healthy or " +
    'service_completed_successfully, found a string ("bogus")',
    "services.web.depends_on.web: a service cannot depend on itself",
    "services.job.depends_on: expected a list of service names, or a mapping with conditions, " +
    'found a string ("db")',
    "services.cron.depends_on[0]: expected a service name, found a mapping",
  ]);
});

// --- network_mode

Deno.test("network_mode host is host networking with a warning; bridge is ignored; another service's network is refused", () => {
  const host = read({ services: { a: { image: "x", network_mode: "host" } } });
  assert.equal(host.specs[0].hostNetwork, true);
  assert.deepEqual(host.warnings.map((w) => w.path), ["services.a.network_mode"]);
  assert.match(host.warnings[0].message, /^host: the container shares the node's network/);
  const bridge = read({ services: { a: { image: "x", network_mode: "bridge" } } });
  assert.equal(bridge.specs[0].hostNetwork, undefined);
  assert.deepEqual(lines(bridge.warnings), [
    "services.a.network_mode: is ignored: containers run in their stack's network",
  ]);
  assert.deepEqual(
    lines(
      read({
        services: { a: { image: "x" }, b: { image: "x", network_mode: "service:a" } },
      }).problems,
    ),
    [
      "services.b.network_mode: 'service:a' shares another container's network, which fossora " +
      "cannot do across nodes: remove it and reach the other service by name",
    ],
  );
});

// --- ports and expose

Deno.test("expose gives container-only ports the stack reaches (UDP ones too), the first TCP one the http port", () => {
  const r = read({ services: { a: { image: "x", expose: ["3000", 9000] } } });
  assert.deepEqual(r.specs[0].ports, [{ container: 3000, http: true }, {
    container: 9000,
    http: false,
  }]);
  assert.deepEqual(lines(r.warnings), [
    "services.a.expose: the stack's services reach these ports by the service's name; nothing " +
    "outside the cluster does, except the http port 3000, served at http://a.s.DOMAIN/",
  ]);
  const other = read({ services: { a: { image: "x", ports: ["3000"], expose: [9000] } } });
  assert.deepEqual(other.specs[0].ports, [{ container: 3000, http: true }, {
    container: 9000,
    http: false,
  }]);
  assert.deepEqual(lines(other.warnings), [
    "services.a.expose: the stack's services reach these ports by the service's name; nothing " +
    "outside the cluster does",
  ]);
  const udp = read({ services: { a: { image: "x", expose: ["514/udp", "514"] } } });
  assert.deepEqual(udp.specs[0].ports, [
    { container: 514, http: false, protocol: "udp" },
    { container: 514, http: true },
  ]);
});

Deno.test("ports: ranges, loopback-bound ones unpublished with a warning, udp", () => {
  const r = read({
    services: {
      a: {
        image: "x",
        ports: ["8000-8002:8000-8002", "127.0.0.1:5432:5432", "5353:53/udp"],
      },
    },
  });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.specs[0].ports, [
    { container: 8000, http: false, published: 8000 },
    { container: 8001, http: false, published: 8001 },
    { container: 8002, http: false, published: 8002 },
    { container: 5432, http: true },
    { container: 53, http: false, published: 5353, protocol: "udp" },
  ]);
  assert.deepEqual(r.warnings.map((w) => w.path), ["services.a.ports[1]"]);
  assert.match(r.warnings[0].message, /^is bound to 127\.0\.0\.1, the machine itself/);
});

Deno.test("two keys with one DNS form are one problem, said once", () => {
  const r = parseServiceFile("services:\n  db_1:\n    image: x\n  db-1:\n    image: x\n", {
    stack: "s",
  });
  assert.deepEqual(r, {
    ok: false,
    problems: [{
      path: "services.db-1",
      message: "its DNS name is the same as services.db_1's; rename one of them",
    }],
  });
});

Deno.test("keys named like JavaScript's own (toString, constructor) are unknown keys, not ignored ones", () => {
  const r = read({
    services: {
      db: { image: "postgres" },
      web: {
        image: "nginx",
        toString: 1,
        deploy: { constructor: 1 },
        depends_on: { db: { condition: "toString" } },
        hasOwnProperty: 1,
      },
    },
  });
  assert.deepEqual(lines(r.problems), [
    "services.web.toString: fossora does not understand this compose key; remove it",
    "services.web.hasOwnProperty: fossora does not understand this compose key; remove it",
    "services.web.deploy.constructor: fossora does not understand this compose key; remove it",
    "services.web.depends_on.db: expected service_started, service_healthy or " +
    'service_completed_successfully, found a string ("toString")',
  ]);
  assert.deepEqual(r.warnings, []);
});

Deno.test("a file named constructor or toString is not found among the files sent, and nothing throws", () => {
  const r = read({
    services: { web: { image: "nginx", env_file: "constructor", secrets: ["a"] } },
    secrets: { a: { file: "toString" } },
  }, { stack: "s", files: {} });
  assert.deepEqual(lines(r.problems), [
    "secrets.a.file: toString was not sent with the compose file: deploy with `fossora deploy " +
    "FILE`, which reads it beside the file",
    "services.web.env_file: the env file constructor was not sent with the compose file: deploy " +
    "with `fossora deploy FILE`, which reads it beside the file (or write the variables under " +
    "environment)",
  ]);
});

Deno.test("file modes written 0440 are octal in a compose file, as docker compose reads them", () => {
  const file = "services:\n  web:\n    image: nginx\n    secrets:\n      - source: pw\n" +
    "        mode: 0440\n      - source: key\n        mode: 0o400\n    volumes:\n" +
    "      - type: tmpfs\n        target: /t\n        tmpfs: { mode: 01777 }\n" +
    "secrets:\n  pw: { file: pw.txt }\n  key: { file: key.txt }\n";
  const r = parseServiceFile(file, { stack: "s", files: { "pw.txt": "a", "key.txt": "b" } });
  assert.ok(r.ok, JSON.stringify(r));
  assert.deepEqual(r.services[0].files?.map((f) => f.mode), [0o440, 0o400]);
  assert.deepEqual(r.services[0].container?.tmpfs, [{ path: "/t", mode: 0o1777 }]);
  // A fossora service file is YAML 1.2, where 0440 is the number 440.
  const own = parseServiceFile("name: web\nimage: nginx\nenv: { PIN: 0440 }\n");
  assert.ok(own.ok);
  assert.deepEqual(own.services[0].env, { PIN: "440" });
});

Deno.test("scale and mem_reservation are compose's older replicas and reservation", () => {
  const s = spec({ services: { a: { image: "x", scale: 3, mem_reservation: "256m" } } });
  assert.equal(s.replicas, 3);
  assert.deepEqual(s.resources, { memory: 256 * 1024 * 1024 });
  // A problem with the number of replicas points at where it was written.
  const volumes = read({ services: { a: { image: "x", scale: 2, volumes: ["data:/d"] } } });
  assert.deepEqual(volumes.problems.map((p) => p.path), ["services.a.scale"]);
});

Deno.test("a named volume: undeclared is kept, shared by two services is one volume of the stack, each with a warning saying what fossora does", () => {
  const r = read({
    services: {
      a: { image: "x", volumes: ["shared:/s", "undeclared:/u"] },
      b: { image: "x", volumes: ["shared:/s"] },
    },
    volumes: { shared: {} },
  });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.specs.map((s) => s.volumes), [
    [{ name: "shared", path: "/s", shared: true }, { name: "undeclared", path: "/u" }],
    [{ name: "shared", path: "/s", shared: true }],
  ]);
  assert.deepEqual(lines(r.warnings), [
    "services.a.volumes[1]: volume 'undeclared' is not declared under the top-level volumes " +
    "(docker compose would refuse it); fossora makes it, as docker run does; write a host path " +
    "such as /srv/undeclared instead to mount a folder of the node",
    "services.b.volumes[0]: volume 'shared' is also mounted by service a: services that share " +
    "a volume run on the same node, and move together",
  ]);
});

Deno.test("a bind mount of the Docker socket is kept, with a warning that it can take over the node", () => {
  const r = read({
    services: { a: { image: "x", volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro"] } },
  });
  assert.deepEqual(r.specs[0].binds, [
    { source: "/var/run/docker.sock", path: "/var/run/docker.sock", readOnly: true },
  ]);
  assert.deepEqual(lines(r.warnings), [
    "services.a.volumes[0]: mounts the node's Docker socket: the service can start any " +
    "container, read every secret and take over the node; keep it only for tools that manage " +
    "Docker",
  ]);
});

Deno.test("more host folders or devices than the fossora form allows are refused at once", () => {
  const r = read({
    services: {
      web: {
        image: "x",
        volumes: Array.from({ length: 65 }, (_, i) => `/srv/d${i}:/d${i}`),
        devices: Array.from({ length: 70 }, (_, i) => `/dev/d${i}`),
      },
    },
  });
  assert.deepEqual(lines(r.problems), [
    "services.web.volumes: lists 65; at most 64 are allowed",
    "services.web.devices: lists 70; at most 64 are allowed",
  ]);
});

Deno.test("depends_on that goes round is refused, naming the cycle", () => {
  const { problems } = read({
    services: {
      a: { image: "x", depends_on: ["b"] },
      b: { image: "x", depends_on: { c: { condition: "service_healthy" } } },
      c: { image: "x", depends_on: ["a"] },
      d: { image: "x", depends_on: ["a"] },
    },
  });
  assert.deepEqual(problems.map(formatProblem), [
    "services.a.depends_on: depends_on goes round (a → b → c → a), so none of them would " +
    "start; remove one of these dependencies",
  ]);
  assert.deepEqual(
    read({ services: { a: { image: "x", depends_on: ["b"] }, b: { image: "x" } } }).problems,
    [],
  );
});
