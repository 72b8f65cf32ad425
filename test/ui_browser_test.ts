/**
 * The web UI in a real browser (chromium) against a real agent: first run with a wrong then the
 * right setup code, the overview, logout, a page without a session sent to login, a wrong then
 * the right password. Every page is checked with axe-core (no serious or critical violation) and
 * photographed at phone and desktop width.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { launchBrowser, screenshots, seriousViolations } from "./helpers/browser.ts";
import { waitFor } from "./helpers/wait.ts";

const PASSWORD = "a long admin password";

Deno.test("in a browser: first run, overview, logout and login, each page accessible", async () => {
  await using agent = await TestAgent.start();
  const code = await waitFor("the setup code in the log", () => {
    const line = agent.output.find((l) => l.includes("setupCode="));
    return line && /setupCode=([A-Z0-9-]{14})/.exec(line)?.[1];
  }, 30_000);
  await using browser = await launchBrowser();
  // axe-core is injected as a script, which the UI's Content-Security-Policy forbids (as it
  // should); the stranger's context below keeps the policy and checks the page still renders.
  const page = await (await browser.newContext({ bypassCSP: true })).newPage();
  const base = `http://127.0.0.1:${agent.ports.api}`;
  const check = async (name: string) => {
    assert.deepEqual(await seriousViolations(page), [], `axe on ${name}`);
    await screenshots(page, name);
  };

  await page.goto(`${base}/`);
  assert.equal(new URL(page.url()).pathname, "/setup");
  await check("setup");

  await page.getByLabel("Setup code").fill("ABCD-EFGH-JKMN");
  await page.getByLabel("Admin password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("The same password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Set the password" }).click();
  assert.match(await page.getByRole("alert").innerText(), /That is not the setup code/);
  await check("setup-wrong-code");

  await page.getByLabel("Setup code").fill(code.toLowerCase());
  await page.getByLabel("Admin password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("The same password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Set the password" }).click();
  await page.getByRole("heading", { name: "Your cluster" }).waitFor();
  assert.ok(await page.getByRole("link", { name: agent.name, exact: true }).isVisible());
  await check("overview");

  await page.getByRole("button", { name: "Log out" }).click();
  assert.equal(new URL(page.url()).pathname, "/login");
  await check("login");

  // Another browser without a session is sent to the login page.
  const other = await browser.newContext();
  const stranger = await other.newPage();
  await stranger.goto(`${base}/`);
  assert.equal(new URL(stranger.url()).pathname, "/login");
  const styled = await stranger.getByRole("button", { name: "Log in" }).evaluate((el) =>
    // deno-lint-ignore no-explicit-any
    (globalThis as any).getComputedStyle(el).backgroundColor
  );
  assert.equal(styled, "rgb(11, 92, 173)", "the page's own styles apply under its policy");
  await other.close();

  await page.getByLabel("Admin password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  assert.match(await page.getByRole("alert").innerText(), /That password is not right/);
  await check("login-wrong-password");
  await page.getByLabel("Admin password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Your cluster" }).waitFor();
});
