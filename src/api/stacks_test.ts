import assert from "node:assert/strict";
import { createApi } from "./app.ts";
import { MemoryStore, testDeps } from "./fixtures.ts";
import { MemoryView } from "../state/view.ts";

const AUTH = { authorization: "Bearer t", "content-type": "application/json" };

function setup(peerToken?: string) {
  const view = new MemoryView();
  const store = new MemoryStore(view);
  const app = createApi(testDeps(view, {
    services: store,
    reservedPorts: () => ({
      tcp: new Map([[80, "proxy"], [7440, "API"]]),
      udp: new Map([[53, "DNS"]]),
    }),
    ...(peerToken ? { peerToken: () => peerToken } : {}),
  }));
  const post = (body: unknown) =>
    app.request("/api/v1/stacks", { method: "POST", headers: AUTH, body: JSON.stringify(body) });
  return { app, view, store, post };
}

const CLOUD = `services:
  app:
    image: nextcloud:\${NC_VERSION:-29}
    ports: ["80:80"]
    env_file: app.env
    secrets: [db_password]
    depends_on: [db]
  db:
    image: mariadb:11
    restart: always
secrets:
  db_password:
    file: ./db_password.txt
`;

Deno.test("POST /api/v1/stacks deploys a compose file with its variables and files as a stack", async () => {
  const { post, view, store } = setup("peer");
  const res = await post({
    file: CLOUD,
    stack: "cloud",
    variables: { NC_VERSION: "30" },
    files: { "app.env": "TZ=Europe/Paris\n", "./db_password.txt": "hunter2" },
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.stack, "cloud");
  assert.deepEqual(body.services.map((s: { name: string }) => s.name), ["app.cloud", "db.cloud"]);
  assert.ok(body.warnings.some((w: string) => /^services\.db\.restart: is ignored/.test(w)));
  assert.ok(body.warnings.some((w: string) => /port 80 is fossora's own \(proxy\)/.test(w)));
  const app = view.service("app.cloud")!.spec;
  assert.equal(app.image, "nextcloud:30");
  assert.equal(app.env.TZ, "Europe/Paris");
  assert.equal(app.front, true);
  assert.deepEqual(app.ports, [{ container: 80, http: true }]);
  assert.equal(app.files?.[0].path, "/run/secrets/db_password");
  assert.match(app.files?.[0].version ?? "", /^[0-9a-f]{16}$/);
  assert.deepEqual(store.stackFiles.get("cloud"), {
    "secret:db_password": { secret: true, content: "hunter2" },
  });
  assert.ok(!JSON.stringify(body).includes("hunter2"), "the answer holds the secret");
});

Deno.test("GET /api/v1/stacks groups services by stack; DELETE removes one stack only", async () => {
  const { app, post } = setup();
  const file =
    'services:\n  db:\n    image: mariadb:11\n  web:\n    image: nginx\n    ports: ["80"]\n';
  assert.equal((await post({ file, stack: "one" })).status, 200);
  assert.equal((await post({ file, stack: "two" })).status, 200);
  const list = await (await app.request("/api/v1/stacks", { headers: AUTH })).json();
  assert.deepEqual(
    list.stacks.map((s: { name: string; url: string; services: { name: string }[] }) => [
      s.name,
      s.url,
      s.services.map((x) => x.name),
    ]),
    [
      ["one", "http://one.home.test/", ["db.one", "web.one"]],
      ["two", "http://two.home.test/", ["db.two", "web.two"]],
    ],
  );
  const del = await app.request("/api/v1/stacks/one", { method: "DELETE", headers: AUTH });
  assert.deepEqual(await del.json(), { removed: ["db.one", "web.one"] });
  const again = await app.request("/api/v1/stacks/one", { method: "DELETE", headers: AUTH });
  assert.equal(again.status, 404);
  assert.match((await again.json()).error.message, /no stack named "one"/);
  const one = await app.request("/api/v1/services/web.two", { headers: AUTH });
  assert.equal(one.status, 200);
});

Deno.test("a stack and a plain service cannot share a name", async () => {
  const { app, post } = setup();
  const plain = await app.request("/api/v1/services", {
    method: "POST",
    headers: AUTH,
    body: JSON.stringify({ name: "media", image: "nginx" }),
  });
  assert.equal(plain.status, 200);
  const res = await post({ file: "services:\n  web:\n    image: nginx\n", stack: "media" });
  assert.equal(res.status, 409);
  assert.match(JSON.stringify(await res.json()), /deploy with --stack OTHER/);
  await post({ file: "services:\n  web:\n    image: nginx\n", stack: "blog" });
  const clash = await app.request("/api/v1/services", {
    method: "POST",
    headers: AUTH,
    body: JSON.stringify({ name: "blog", image: "nginx" }),
  });
  assert.equal(clash.status, 409);
});

Deno.test("a bad stack request is a 400 that says what to send, and nothing is stored", async () => {
  const { post, app, view } = setup();
  const cases: [unknown, RegExp][] = [
    ["just text", /send \{"file"/],
    [{ file: 3 }, /send \{"file"/],
    [{ file: "services: {}", extra: 1 }, /unknown key "extra"/],
    [{ file: "services: {}", variables: { A: 1 } }, /variables must be a mapping of name to text/],
    [{ file: "services: {}", stack: 5 }, /stack must be a string/],
    [{ file: "services:\n  a:\n    image: x\n" }, /the stack has no name/],
    [{ file: "services:\n  a:\n    image: x\n", stack: "Bad_Name" }, /must be a DNS label/],
    [{ file: "services:\n  a:\n    build: .\n", stack: "s" }, /build and push it, then set image/],
  ];
  for (const [body, message] of cases) {
    const res = await post(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const { error } = await res.json();
    const said = [error.message, ...error.details.map((d: { message: string }) => d.message)];
    assert.match(said.join("\n"), message, JSON.stringify(body));
  }
  const notJson = await app.request("/api/v1/stacks", {
    method: "POST",
    headers: AUTH,
    body: "{",
  });
  assert.equal(notJson.status, 400);
  assert.equal(view.services().length, 0);
});

Deno.test("a stack too large for one etcd transaction is a 400 that says to split it", async () => {
  const { post, view } = setup();
  const services = Array.from({ length: 130 }, (_, i) => `  s${i}:\n    image: nginx\n`).join("");
  const res = await post({ file: `services:\n${services}`, stack: "big" });
  assert.equal(res.status, 400);
  const { error } = await res.json();
  assert.equal(error.code, "stack_too_large");
  assert.match(error.details[0].message, /130 services and files \(at most 120\).*split it/);
  assert.equal(view.services().length, 0);
});
