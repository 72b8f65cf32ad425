import assert from "node:assert/strict";
import { signedIn } from "./fixtures.ts";
import { readVariables, secretPath } from "./deploy.tsx";

const COMPOSE = `name: blog
services:
  web:
    image: nginx:1.27
    expose: ["80"]
  db:
    image: postgres:16
    volumes:
      - data:/var/lib/postgresql/data
volumes:
  data:
`;

Deno.test("a pasted compose file is previewed first, with nothing written, then deployed", async () => {
  const { b, view, store } = await signedIn();
  await b.go("/deploy");
  const preview = await b.post("/deploy", { mode: "file", file: COMPOSE, step: "preview" });
  assert.equal(preview.status, 200);
  assert.match(preview.text_, /What this deploy does/);
  assert.match(preview.text_, /web\.blog: new/);
  assert.match(preview.text_, /db\.blog: new/);
  assert.equal(store.writes, 0);
  // The confirmation carries the file back.
  assert.match(preview.text_, /name="file" value="name: blog/);
  const done = await b.post("/deploy", { mode: "file", file: COMPOSE, step: "apply" });
  assert.match(done.text_, /Deployed stack blog/);
  assert.match(done.text_, /<a href="\/services\/web\.blog">web\.blog<\/a> \(new\)/);
  assert.equal(view.service("web.blog")?.spec.image, "nginx:1.27");
});

Deno.test("a file with problems shows each under its line, and deploys nothing", async () => {
  const { b, store } = await signedIn();
  await b.go("/deploy");
  const broken = COMPOSE.replace("image: postgres:16", "image: postgres:16\n    restart: sometimes")
    .replace('expose: ["80"]', 'expose: ["eighty"]');
  const res = await b.post("/deploy", { mode: "file", file: broken, step: "preview" });
  assert.equal(res.status, 400);
  assert.match(res.text_, /Nothing was deployed: \d problems? to fix/);
  // Line 5 is web's expose.
  assert.match(
    res.text_,
    /<li class="has-problem" id="line-5"><span class="n">5<\/span><span> {4}expose: \[&quot;eighty&quot;\]<\/span><span class="says">Line 5: services\.web\.expose/,
  );
  assert.equal(store.writes, 0);
  // The text box keeps what was typed.
  assert.match(res.text_, /<textarea id="file" name="file"[^>]*>name: blog/);
});

Deno.test("a YAML syntax error is shown at the line the parser names", async () => {
  const { b } = await signedIn();
  await b.go("/deploy");
  const res = await b.post("/deploy", {
    mode: "file",
    file: "services:\n  web:\n    image: [nginx\n",
    step: "preview",
  });
  assert.equal(res.status, 400);
  assert.match(res.text_, /id="line-\d"[^]*Line \d: YAML syntax error at line \d/);
});

Deno.test("an edit of a service previews what changes and whether it restarts", async () => {
  const { b } = await signedIn();
  await b.go("/deploy");
  const file = JSON.stringify({
    name: "whoami",
    image: "example/whoami:2",
    replicas: 2,
    ports: [{ container: 8080, http: true }],
  });
  const res = await b.post("/deploy", { mode: "file", file, step: "preview" });
  assert.match(res.text_, /whoami: changes, and its replicas are replaced one at a time/);
  assert.match(
    res.text_,
    /<code>image<\/code> from &quot;example\/whoami:1&quot; to &quot;example\/whoami:2&quot;/,
  );
});

Deno.test("the one-service form builds a service, and its problems go beside its fields", async () => {
  const { b, view } = await signedIn();
  await b.go("/deploy");
  const fields = {
    mode: "form",
    name: "notes",
    image: "nginx:1.27",
    port: "80",
    replicas: "1",
    environment: "TZ=Europe/Paris\n# a comment\n",
    volumes: "data:/usr/share/nginx/html",
  };
  const bad = await b.post("/deploy", { ...fields, name: "Not A Name", step: "preview" });
  assert.equal(bad.status, 400);
  assert.match(bad.text_, /<div class="problem" id="name-problem">name:/);
  const env = await b.post("/deploy", { ...fields, environment: "no equals", step: "preview" });
  assert.match(env.text_, /id="environment-problem">environment: line 1 is not NAME=VALUE/);
  // The API's own rules, beside the field they concern.
  const two = await b.post("/deploy", { ...fields, replicas: "2", step: "preview" });
  assert.match(two.text_, /id="replicas-problem">replicas: a service with volumes runs one copy/);
  const ok = await b.post("/deploy", { ...fields, step: "preview" });
  assert.match(ok.text_, /notes: new/);
  await b.post("/deploy", { ...fields, step: "apply" });
  const spec = view.service("notes")!.spec;
  assert.equal(spec.replicas, 1);
  assert.deepEqual(spec.env, { TZ: "Europe/Paris" });
  assert.deepEqual(spec.volumes, [{ name: "data", path: "/usr/share/nginx/html" }]);
  assert.equal(spec.ports[0].container, 80);
});

Deno.test("variables are NAME=value lines; a bad line is named", () => {
  assert.deepEqual({ ...readVariables("A=1\n\n# x\nB=two=2\n") as object }, { A: "1", B: "two=2" });
  assert.equal(readVariables("A=1\nnope"), 'line 2 is not NAME=VALUE: "nope"');
});

Deno.test("a deploy form too large or forged is refused", async () => {
  const { b, store } = await signedIn();
  await b.go("/deploy");
  const huge = await b.post("/deploy", { mode: "file", file: "x".repeat(3.5 * 1024 * 1024) });
  assert.equal(huge.status, 403);
  const forged = await b.go("/deploy", { mode: "file", file: COMPOSE, step: "apply" });
  assert.equal(forged.status, 403);
  assert.equal(store.writes, 0);
});

Deno.test("a preview does not show the values of variables named like secrets", async () => {
  const { b, view } = await signedIn();
  const spec = view.service("whoami")!.spec;
  view.serviceMap.set("whoami", {
    ...view.service("whoami")!,
    spec: { ...spec, env: { DB_PASSWORD: "old-secret", TZ: "UTC" } },
  });
  await b.go("/deploy");
  const file = JSON.stringify({
    name: "whoami",
    image: spec.image,
    replicas: 2,
    ports: [{ container: 8080, http: true }],
    env: { DB_PASSWORD: "new-secret", TZ: "Europe/Paris" },
  });
  const res = await b.post("/deploy", { mode: "file", file, step: "preview" });
  assert.match(res.text_, /<code>env\.DB_PASSWORD<\/code> changes \(its value is not shown\)/);
  assert.match(
    res.text_,
    /<code>env\.TZ<\/code> from &quot;UTC&quot; to &quot;Europe\/Paris&quot;/,
  );
  const shown = res.text_.replace(/<input type="hidden" name="file"[^>]*>/, "");
  assert.doesNotMatch(shown, /old-secret|new-secret/);
  assert.equal(secretPath("env.API_KEY"), true);
  assert.equal(secretPath("image"), false);
});
