/**
 * The web UI's first run and login on a real agent (real etcd): the setup code is in the log
 * and `fossora ui setup-code` prints the same; a wrong code is refused; the right one sets the
 * password, which lives in etcd (a restarted agent takes it) and in no API answer; login and a
 * page without a session behave as in a browser (cookies, redirects, CSRF).
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";

const PASSWORD = "a long admin password";

/** A cookie jar and the CSRF token of the last page, over real HTTP. */
class Browser {
  cookies = new Map<string, string>();
  csrf = "";
  constructor(readonly base: string) {}

  async go(path: string, form?: Record<string, string>) {
    const headers: Record<string, string> = {};
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    if (form) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(`${this.base}${path}`, {
      method: form ? "POST" : "GET",
      headers,
      body: form ? new URLSearchParams(form).toString() : undefined,
      redirect: "manual",
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [k, v] = pair.split("=");
      if (/Max-Age=0/i.test(line) || v === "") this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    this.csrf = /name="csrf" value="([^"]+)"/.exec(text)?.[1] ?? this.csrf;
    return { status: res.status, location: res.headers.get("location"), text };
  }
}

Deno.test("the web UI's first run takes the setup code from the log, and the password it sets is the cluster's", async () => {
  await using agent = await TestAgent.start();
  const logged = await waitFor("the setup code in the log", () => {
    const line = agent.output.find((l) => l.includes("setup code") || l.includes("setupCode"));
    return line && /setupCode=([A-Z0-9-]{14})/.exec(line)?.[1];
  }, 30_000);
  const cli = await agent.cli("ui", "setup-code");
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), logged);

  const base = `http://127.0.0.1:${agent.ports.api}`;
  const b = new Browser(base);
  assert.equal((await b.go("/")).location, "/setup");
  const page = await b.go("/setup");
  assert.equal(page.status, 200);
  assert.ok(page.text.length < 100_000, `the first page is ${page.text.length} bytes`);
  const wrong = await b.go("/setup", {
    csrf: b.csrf,
    code: "ABCD-EFGH-JKMN",
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(wrong.status, 400);
  assert.match(wrong.text, /That is not the setup code/);
  const forged = await new Browser(base).go("/setup", {
    code: logged,
    password: "a password of my own",
    again: "a password of my own",
  });
  assert.equal(forged.status, 403, "no CSRF token, no password");
  const right = await b.go("/setup", {
    csrf: b.csrf,
    code: logged,
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(right.status, 303);
  const home = await b.go("/");
  assert.equal(home.status, 200);
  assert.match(home.text, new RegExp(`<a href="/nodes/${agent.name}">${agent.name}</a>`));

  // The code has done its job.
  const after = await agent.cli("ui", "setup-code");
  assert.equal(after.code, 1);
  assert.match(after.stderr, /admin password is set already/);
  // The hash is nowhere in the API's answers.
  for (const path of ["/api/v1/cluster", "/api/v1/status", "/api/v1/events", "/metrics"]) {
    const text = await (await agent.fetch(path)).text();
    assert.doesNotMatch(text, /scrypt\$/, path);
  }
  // The API takes the session for reads; a write needs the session's CSRF token too.
  const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const api = await fetch(`${base}/api/v1/services`, { headers: { cookie } });
  assert.equal(api.status, 200);
  await api.body?.cancel();
  const write = await fetch(`${base}/api/v1/leave`, { method: "POST", headers: { cookie } });
  assert.equal(write.status, 401);
  await write.body?.cancel();

  // The password is the cluster's, in etcd: the agent started again takes it and the session.
  await agent.stop();
  await agent.restart();
  assert.equal((await b.go("/")).status, 200, "the session survives the restart");
  const fresh = new Browser(base);
  assert.equal((await fresh.go("/")).location, "/login");
  await fresh.go("/login");
  assert.equal(
    (await fresh.go("/login", { csrf: fresh.csrf, password: "nope, not it" })).status,
    401,
  );
  assert.equal((await fresh.go("/login", { csrf: fresh.csrf, password: PASSWORD })).status, 303);
  assert.equal((await fresh.go("/")).status, 200);
  assert.ok(!agent.output.some((l) => l.includes(PASSWORD)), "the password is in no log line");

  // "Log out everywhere" is kept in etcd: both browsers' sessions end, across a restart too.
  await fresh.go("/nodes");
  assert.equal((await fresh.go("/logout", { csrf: fresh.csrf, everywhere: "1" })).status, 303);
  assert.equal((await b.go("/")).location, "/login");
  await agent.stop();
  await agent.restart();
  assert.equal((await b.go("/")).location, "/login", "still ended after a restart");

  // The same UI over HTTPS on the TLS port, with a certificate the cluster CA signed.
  const ca = await (await fetch(`${base}/api/v1/ca.crt`)).text();
  const client = Deno.createHttpClient({ caCerts: [ca] });
  try {
    const tls = `https://127.0.0.1:${agent.ports.apiTls}`;
    const login = await fetch(`${tls}/login`, { client });
    assert.equal(login.status, 200);
    assert.match(await login.text(), /<h1>Log in<\/h1>/);
    const set = login.headers.getSetCookie().find((l) => l.startsWith("__Host-fossora_form="));
    assert.match(
      set ?? "",
      /; Path=\/;.*Secure/i,
      "cookies sent over HTTPS are __Host- and Secure",
    );
  } finally {
    client.close();
  }
});
