import assert from "node:assert/strict";
import { signedIn } from "./fixtures.ts";

Deno.test("the catalog lists its apps; an app's page says what it is and asks its settings", async () => {
  const { b } = await signedIn();
  const list = await b.go("/catalog");
  assert.match(list.text_, /<a href="\/catalog\/jellyfin">Jellyfin<\/a>/);
  const app = await b.go("/catalog/jellyfin");
  assert.match(app.text_, /Runs on<\/dt><dd>amd64, arm64/);
  assert.match(app.text_, /\/srv\/media at \/data\/media \(it runs only on nodes that have them\)/);
  assert.match(app.text_, /<label for="set-MEDIA_PATH">Media folder on the nodes<\/label>/);
  assert.match(app.text_, /<option value="Europe\/Paris"/);
  assert.equal((await b.go("/catalog/nothing")).status, 404);
});

Deno.test("installing an app previews it, then deploys its file with the settings as variables", async () => {
  const { b, view, store } = await signedIn();
  await b.go("/catalog/jellyfin");
  const settings = { stack: "films", "set.TZ": "Europe/Paris", "set.MEDIA_PATH": "/mnt/films" };
  const preview = await b.post("/catalog/jellyfin", { ...settings, step: "preview" });
  assert.match(preview.text_, /jellyfin\.films: new/);
  assert.equal(store.writes, 0);
  await b.post("/catalog/jellyfin", { ...settings, step: "apply" });
  const spec = view.service("jellyfin.films")!.spec;
  assert.equal(spec.env.TZ, "Europe/Paris");
  assert.deepEqual(spec.binds?.[0], { source: "/mnt/films", path: "/data/media", readOnly: true });
  assert.equal(spec.stack, "films");
});

Deno.test("a required setting left empty is shown beside its field, and nothing is installed", async () => {
  const { b, store } = await signedIn();
  await b.go("/catalog/nextcloud");
  const res = await b.post("/catalog/nextcloud", {
    stack: "cloud",
    "set.ADMIN_USER": "admin",
    "set.ADMIN_PASSWORD": "",
    "set.DB_PASSWORD": "a long database password",
    "set.TZ": "Etc/UTC",
    step: "preview",
  });
  assert.equal(res.status, 400);
  assert.match(res.text_, /id="set-ADMIN_PASSWORD-problem">Admin password: [^<]*ADMIN_PASSWORD/);
  assert.equal(store.writes, 0);
});
