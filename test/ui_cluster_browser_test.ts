/**
 * The web UI in a real browser (chromium) on a real three-node cluster (network namespaces, a
 * dockerd and an agent each): an app installed from the catalog; a pasted compose file with
 * errors shown by line, then a good one deployed, running, its logs followed and paused, opened
 * through the proxy, scaled, restarted; the second node's UI showing the same state and working on when
 * the first node is killed; a service removed after its confirmation; a forged form refused; a
 * page without a session sent to login. Every page is checked with axe-core and photographed at
 * phone and desktop width (see helpers/browser.ts for where).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { readyVoters, startJoined } from "./helpers/cluster.ts";
import { launchBrowser, screenshots, seriousViolations } from "./helpers/browser.ts";
import { BUSYBOX_IMAGE, type Host, Hosts } from "./helpers/hosts.ts";
import { waitFor } from "./helpers/wait.ts";

const DOMAIN = "fossora.home.arpa";
const PASSWORD = "a long admin password";

/** A stack that serves the test image's page and prints a line a second. */
const COMPOSE = `services:
  web:
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "i=0; while true; do echo tick $$i; i=$$((i+1)); sleep 1; done & exec httpd -f -p 80 -h /www"]
    x-fossora:
      http: 80
`;

/** The same with two mistakes: a port that is not one, and a key compose does not have. */
const BROKEN = `services:
  web:
    image: ${BUSYBOX_IMAGE}
    expose: ["eighty"]
    restart_policy: always
`;

Deno.test("in a browser on three nodes: catalog, deploy, logs, proxy, scale, remove, and the UI of a second node when the first dies", async (t) => {
  await using cluster = await Hosts.create(3, { startAgents: false });
  const [n1, n2] = cluster.hosts;
  await startJoined(cluster);
  await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 90_000);
  await using browser = await launchBrowser({ [`*.${DOMAIN}`]: n2.address });
  // axe-core is injected as a script, which the UI's Content-Security-Policy forbids (as it
  // should); the pages' own script and styles are checked under the policy in ui_browser_test.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  const ui = (h: Host) => `http://${h.address}:${h.apiPort}`;
  const check = async (p: Page, name: string) => {
    assert.deepEqual(await seriousViolations(p), [], `axe on ${name}`);
    await screenshots(p, name);
  };
  const login = async (p: Page, h: Host) => {
    await p.goto(`${ui(h)}/`);
    assert.equal(new URL(p.url()).pathname, "/login");
    await p.getByLabel("Admin password").fill(PASSWORD);
    await p.getByRole("button", { name: "Log in" }).click();
    await p.getByRole("heading", { name: "Your cluster" }).waitFor();
  };

  await t.step("the first run sets the password with the setup code from the log", async () => {
    const code = await waitFor("the setup code in n1's log", () => {
      const line = n1.output.find((l) => l.includes("setupCode="));
      return line && /setupCode=([A-Z0-9-]{14})/.exec(line)?.[1];
    }, 30_000);
    await page.goto(`${ui(n1)}/`);
    assert.equal(new URL(page.url()).pathname, "/setup");
    await page.getByLabel("Setup code").fill(code);
    await page.getByLabel("Admin password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("The same password again").fill(PASSWORD);
    await page.getByRole("button", { name: "Set the password" }).click();
    await page.getByRole("heading", { name: "Your cluster" }).waitFor();
    for (const h of cluster.hosts) {
      assert.ok(await page.getByRole("link", { name: h.name, exact: true }).isVisible(), h.name);
    }
    await check(page, "cluster-overview");
  });

  await t.step(
    "an app from the catalog: its page, its settings, the preview, the install",
    async () => {
      await page.getByRole("link", { name: "Apps" }).click();
      await check(page, "catalog");
      await page.getByRole("link", { name: "Uptime Kuma" }).click();
      await page.getByLabel("Time zone").selectOption("Europe/Paris");
      await check(page, "catalog-app");
      await page.getByRole("button", { name: "Check and preview" }).click();
      await page.getByRole("heading", { name: "What this deploy does" }).waitFor();
      assert.ok(await page.getByText("uptime-kuma.uptime-kuma: new").isVisible());
      await check(page, "catalog-preview");
      await page.getByRole("button", { name: "Deploy", exact: true }).click();
      await page.getByText("Deployed stack uptime-kuma.").waitFor();
      const { spec } = await n2.json<{ spec: { env: Record<string, string> } }>(
        "/api/v1/services/uptime-kuma.uptime-kuma",
      );
      assert.equal(spec.env.TZ, "Europe/Paris", "the setting reached the service");
    },
  );

  await t.step("a pasted compose file with mistakes shows each under its line", async () => {
    await page.getByRole("link", { name: "Deploy", exact: true }).click();
    await check(page, "deploy");
    await page.getByLabel("File", { exact: true }).fill(BROKEN);
    await page.getByLabel("Stack name (for a compose file without name:)").fill("blog");
    await page.getByRole("button", { name: "Check and preview" }).first().click();
    const said = page.locator(".listing .says");
    await said.first().waitFor();
    const lines = await said.allInnerTexts();
    assert.ok(lines.some((l) => l.startsWith("Line 4: services.web.expose")), lines.join("\n"));
    assert.ok(
      lines.some((l) => l.startsWith("Line 5: services.web.restart_policy")),
      lines.join("\n"),
    );
    assert.match(await page.getByRole("alert").first().innerText(), /Nothing was deployed/);
    await check(page, "deploy-problems");
  });

  await t.step("a good compose file is previewed, deployed, and runs", async () => {
    await page.getByLabel("File", { exact: true }).fill(COMPOSE);
    await page.getByRole("button", { name: "Check and preview" }).first().click();
    await page.getByText("web.blog: new").waitFor();
    await check(page, "deploy-preview");
    await page.getByRole("button", { name: "Deploy", exact: true }).click();
    await page.getByText("Deployed stack blog.").waitFor();
    await page.getByRole("link", { name: "web.blog" }).click();
    // The page updates itself (server-sent events) as the replica starts.
    await page.getByText("1 ready of 1 wanted").waitFor({ timeout: 60_000 });
    await check(page, "service");
  });

  await t.step("its logs follow, pause and resume", async () => {
    await page.getByRole("link", { name: "Logs" }).click();
    const log = page.locator("#log");
    await waitFor("a tick in the log", async () => /tick \d+/.test(await log.innerText()), 30_000);
    await page.getByRole("button", { name: "Pause" }).click();
    const shown = await log.innerText();
    const status = page.locator("#log-state");
    await waitFor(
      "lines waiting while paused",
      async () => /Paused: \d+ new lines? wait/.test(await status.innerText()),
      10_000,
    );
    assert.equal(await log.innerText(), shown, "nothing is added while paused");
    await page.getByRole("button", { name: "Resume" }).click();
    assert.ok((await log.innerText()).length > shown.length, "the waiting lines come in");
    await check(page, "logs");
  });

  await t.step("it opens through the proxy, at its name and at the stack's", async () => {
    const site = await context.newPage();
    for (const name of [`web.blog.${DOMAIN}`, `blog.${DOMAIN}`]) {
      const res = await site.goto(`http://${name}/`);
      assert.equal(res?.status(), 200, name);
      assert.match(await site.content(), /hello from fossora-test/);
    }
    await site.close();
  });

  await t.step("scale to two replicas", async () => {
    await page.goto(`${ui(n1)}/services/web.blog`);
    await page.getByRole("spinbutton", { name: "Replicas" }).fill("2");
    await page.getByRole("button", { name: "Scale" }).click();
    await page.getByText("2 ready of 2 wanted").waitFor({ timeout: 60_000 });
  });

  await t.step(
    "restart after its confirmation: the replicas roll to a new generation",
    async () => {
      await page.getByRole("link", { name: "Restart" }).click();
      await check(page, "service-restart-confirm");
      await page.getByRole("button", { name: "Restart web.blog" }).click();
      await page.getByText("(generation 2)").waitFor({ timeout: 10_000 });
      await waitFor("both replicas of generation 2 ready", async () => {
        const { replicas } = await n2.json<{ replicas: { generation: number; ready: boolean }[] }>(
          "/api/v1/services/web.blog",
        );
        return replicas.filter((r) => r.generation === 2 && r.ready).length === 2;
      }, 60_000);
      await page.getByText("2 ready of 2 wanted").waitFor({ timeout: 30_000 });
    },
  );

  const second = await context.newPage();
  await t.step("a second node's UI shows the same state", async () => {
    await login(second, n2);
    await page.goto(`${ui(n1)}/`);
    // The services table, row by row: name, stack, state, ready, nodes, address.
    const rows = async (p: Page) =>
      (await p.locator("[data-live] table").last().locator("tbody tr").allInnerTexts()).sort();
    await waitFor(
      "the same services in the same state on both nodes",
      async () => JSON.stringify(await rows(second)) === JSON.stringify(await rows(page)),
      10_000,
    );
    const names = (await rows(second)).map((r) => r.split(/\s/)[0]);
    assert.deepEqual(names, ["uptime-kuma.uptime-kuma", "web.blog"]);
    await check(second, "second-node-overview");
  });

  await t.step("the first node killed, the second node's UI says so and works on", async () => {
    await n1.kill();
    // Both pages learn it by themselves: the one on n1 lost its node, n2's sees n1 down.
    await page.locator("#offline").waitFor({ state: "visible", timeout: 30_000 });
    await second.getByText(`${n1.name} is down`).waitFor({ timeout: 60_000 });
    await check(second, "node-down-overview");
    await second.getByRole("link", { name: "Nodes" }).click();
    await check(second, "nodes");
    await second.getByRole("link", { name: n1.name, exact: true }).first().click();
    await second.getByText("Remove this node").waitFor();
    await check(second, "node");
    await second.getByRole("link", { name: "Remove this node" }).click();
    await check(second, "node-remove-confirm");
    await second.getByRole("link", { name: "Cancel" }).click();
    await second.goto(`${ui(n2)}/nodes/${n2.name}/leave`);
    await check(second, "node-leave-confirm");
    await second.goto(`${ui(n2)}/services/uptime-kuma.uptime-kuma`);
    await second.getByRole("link", { name: "Remove" }).click();
    await check(second, "service-remove-confirm");
    await second.getByRole("button", { name: "Remove uptime-kuma.uptime-kuma" }).click();
    assert.equal(new URL(second.url()).pathname, "/services");
    await waitFor(
      "the app gone",
      async () => !(await second.getByRole("link", { name: "uptime-kuma.uptime-kuma" }).count()),
      10_000,
    );
    await check(second, "services");
    const site = await context.newPage();
    await waitFor("web.blog answering through n2 without n1", async () => {
      const res = await site.goto(`http://web.blog.${DOMAIN}/`).catch(() => null);
      return res?.status() === 200;
    }, 60_000);
    await site.close();
  });

  await t.step("a forged form without the CSRF token is refused", async () => {
    const forged = await second.request.post(`${ui(n2)}/services/web.blog/remove`, {
      form: { confirm: "yes" },
    });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /That form was refused/);
    const { services } = await n2.json<{ services: { name: string }[] }>("/api/v1/services");
    assert.ok(services.some((s) => s.name === "web.blog"), "nothing was removed");
  });

  await t.step("a page with no session goes to the login page", async () => {
    const stranger = await (await browser.newContext({ bypassCSP: true })).newPage();
    for (const path of ["/services", "/deploy", "/catalog/jellyfin", "/nodes"]) {
      await stranger.goto(`${ui(n2)}${path}`);
      assert.equal(new URL(stranger.url()).pathname, "/login", path);
    }
    await stranger.goto(`${ui(n2)}/trust`);
    await check(stranger, "trust");
  });
});
