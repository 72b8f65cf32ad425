import assert from "node:assert/strict";
import { parseServiceFile } from "../spec/mod.ts";
import { loadCatalog, readCatalogApp } from "./catalog.ts";

const catalog = loadCatalog();

/** What the install form sends for an app: each setting's default, or a test value. */
function variables(app: ReturnType<typeof readCatalogApp>): Record<string, string> {
  const vars: Record<string, string> = { FOSSORA_STACK: app.id, FOSSORA_DOMAIN: "home.test" };
  for (const s of app.settings) vars[s.name] = s.default ?? "a-long-test-password";
  return vars;
}

Deno.test("the catalog has the ten home services the web UI promises", () => {
  const titles = catalog.apps.map((a) => a.title);
  for (
    const want of [
      "Jellyfin",
      "Nextcloud",
      "Home Assistant",
      "Vaultwarden",
      "Uptime Kuma",
      "Syncthing",
      "Paperless-ngx",
      "Navidrome",
      "Pi-hole",
      "Minecraft server",
    ]
  ) assert.ok(titles.includes(want), `${want} is missing from ${titles}`);
});

Deno.test("every catalog file deploys as a stack with its settings, and with no warning", async (t) => {
  for (const app of catalog.apps) {
    await t.step(app.id, () => {
      const result = parseServiceFile(app.file, { stack: app.id, variables: variables(app) });
      assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
      assert.equal(result.stack?.name, app.id);
      // Only what helps: services that share a volume are kept together.
      assert.deepEqual(result.warnings.filter((w) => !/also mounted by/.test(w)), []);
      assert.ok(app.arch.includes("amd64") && app.arch.includes("arm64"));
      assert.ok(app.images.length > 0);
      // The web UI of the app is behind the proxy: one service is the stack's front.
      if (app.id !== "minecraft") {
        assert.ok(result.services.some((s) => s.front), `${app.id} has no front`);
      }
    });
  }
});

Deno.test("an app's passwords go in as secrets, never as environment the API shows", () => {
  for (const app of catalog.apps) {
    const result = parseServiceFile(app.file, { stack: app.id, variables: variables(app) });
    assert.ok(result.ok);
    const shown = JSON.stringify(result.services);
    assert.ok(!shown.includes("a-long-test-password"), `${app.id} shows a password`);
  }
});

Deno.test("a password setting with no value is refused by the file itself, naming it", () => {
  const app = catalog.apps.find((a) => a.id === "nextcloud")!;
  const vars = variables(app);
  delete vars.ADMIN_PASSWORD;
  const result = parseServiceFile(app.file, { stack: "nextcloud", variables: vars });
  assert.ok(!result.ok);
  assert.match(JSON.stringify(result.problems), /ADMIN_PASSWORD/);
});

Deno.test("volumes and host paths are read from the file", () => {
  const jellyfin = catalog.apps.find((a) => a.id === "jellyfin")!;
  assert.deepEqual(jellyfin.volumes, ["config"]);
  assert.deepEqual(jellyfin.hostPaths, ["/srv/media at /data/media"]);
});

Deno.test("a catalog file without its block, or with a bad setting, is refused naming it", () => {
  assert.throws(() => readCatalogApp("x", "services:\n  a:\n    image: a\n"), /catalog\/x.yml/);
  assert.throws(
    () =>
      readCatalogApp(
        "x",
        "x-fossora-app: {title: X, about: Y, arch: [amd64], settings: [{name: A, label: B, kind: odd}]}\nservices: {a: {image: a}}\n",
      ),
    /kind/,
  );
});
