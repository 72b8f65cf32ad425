import assert from "node:assert/strict";
import { createLogger } from "../util/log.ts";
import { createUi } from "./app.tsx";
import { Browser, PASSWORD, SECRET, signedIn, testUi } from "./fixtures.ts";
import { setupCode } from "./setup_code.ts";

/** The UI with its API, the admin password in a map. */
function ui(o: { secret?: string | undefined } = {}) {
  return testUi(o);
}

/** The UI once someone has set the admin password on its first-run page. */
async function afterFirstRun() {
  const made = ui();
  const first = new Browser(made.app);
  await first.go("/setup");
  const set = await first.go("/setup", {
    csrf: first.csrf,
    code: setupCode(SECRET),
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(set.status, 303);
  return made;
}

Deno.test("first run: the setup code is asked for, a wrong one is refused, the right one sets the password and logs in", async () => {
  const { app, admin } = ui();
  const b = new Browser(app);
  const home = await b.go("/");
  assert.equal(home.status, 303);
  assert.equal(home.headers.get("location"), "/setup");
  const setup = await b.go("/setup");
  assert.equal(setup.status, 200);
  assert.match(setup.headers.get("content-security-policy")!, /frame-ancestors 'none'/);
  assert.equal(setup.headers.get("x-frame-options"), "DENY");
  assert.match(setup.text_, /<label for="code">Setup code<\/label>/);
  assert.match(setup.headers.get("set-cookie")!, /fossora_form=.*HttpOnly.*SameSite=Strict/i);

  const wrong = await b.go("/setup", {
    csrf: b.csrf,
    code: "AAAA-BBBB-CCCC",
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(wrong.status, 400);
  assert.match(wrong.text_, /role="alert"[^>]*>That is not the setup code/);
  assert.equal(admin(), undefined);

  const short = await b.go("/setup", {
    csrf: b.csrf,
    code: setupCode(SECRET),
    password: "short",
    again: "short",
  });
  assert.equal(short.status, 400);
  assert.match(short.text_, /at least 10 characters/);

  const right = await b.go("/setup", {
    csrf: b.csrf,
    code: setupCode(SECRET).toLowerCase(),
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(right.status, 303);
  assert.equal(right.headers.get("location"), "/");
  assert.match(admin()!.hash, /^scrypt\$/);
  assert.match(right.headers.get("set-cookie")!, /fossora_session=.*HttpOnly.*SameSite=Strict/i);
  const overview = await b.go("/");
  assert.equal(overview.status, 200);
  assert.match(overview.text_, /<a href="\/nodes\/pi-a">pi-a<\/a>/);
  assert.match(
    overview.text_,
    /<a href="\/services\/whoami">whoami<\/a>.*<td data-label="Ready">2 of 2<\/td>/,
  );
  assert.match(overview.text_, /href="http:\/\/whoami\.home\.test\/"/);

  // Once set, the first-run page is gone: a second "first run" cannot replace the password.
  const later = new Browser(app, "192.168.1.66");
  assert.equal((await later.go("/setup")).headers.get("location"), "/login");
});

Deno.test("a page without a session goes to login; a wrong password is refused, the right one logs in, logout ends it", async () => {
  const { app } = await afterFirstRun();
  const b = new Browser(app, "192.168.1.21");
  assert.equal((await b.go("/")).headers.get("location"), "/login");
  await b.go("/login");
  const wrong = await b.go("/login", { csrf: b.csrf, password: "not the password" });
  assert.equal(wrong.status, 401);
  assert.match(wrong.text_, /That password is not right/);
  const right = await b.go("/login", { csrf: b.csrf, password: PASSWORD });
  assert.equal(right.status, 303);
  assert.equal((await b.go("/")).status, 200);
  const out = await b.go("/logout", { csrf: b.csrf });
  assert.equal(out.status, 303);
  assert.equal((await b.go("/")).headers.get("location"), "/login");
});

Deno.test("log out everywhere ends every session, on every node, the one that asked too", async () => {
  const made = await signedIn();
  const other = new Browser(made.app, "192.168.1.30");
  await other.go("/login");
  assert.equal((await other.go("/login", { csrf: other.csrf, password: PASSWORD })).status, 303);
  assert.equal((await other.go("/")).status, 200);
  const nodes = await made.b.go("/nodes");
  assert.match(nodes.text_, /Log out everywhere/);
  assert.equal((await made.b.post("/logout", { everywhere: "1" })).status, 303);
  assert.ok(made.admin()?.signedOutAt, "the record says when");
  assert.equal((await other.go("/")).headers.get("location"), "/login");
  assert.equal((await made.b.go("/")).headers.get("location"), "/login");
  // Logging in again works.
  await other.go("/login");
  assert.equal((await other.go("/login", { csrf: other.csrf, password: PASSWORD })).status, 303);
  assert.equal((await other.go("/")).status, 200);
});

Deno.test("a forged form without the CSRF token, or from another site, is refused", async () => {
  const { app, admin } = ui();
  const b = new Browser(app);
  await b.go("/setup");
  const code = setupCode(SECRET);
  const forged = await b.go("/setup", { code, password: PASSWORD, again: PASSWORD });
  assert.equal(forged.status, 403);
  assert.match(forged.text_, /That form was refused/);
  const otherToken = await b.go("/setup", {
    csrf: "x".repeat(43),
    code,
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(otherToken.status, 403);
  const cross = await app.request("http://pi-a:7440/setup", {
    method: "POST",
    headers: {
      host: "pi-a:7440",
      origin: "https://evil.example",
      cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ csrf: b.csrf, code, password: PASSWORD, again: PASSWORD })
      .toString(),
  });
  assert.equal(cross.status, 403);
  const garbled = await app.request("http://pi-a:7440/setup", {
    method: "POST",
    headers: {
      host: "pi-a:7440",
      origin: "::not a url",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "csrf=x",
  });
  assert.equal(garbled.status, 403, "a bad Origin is refused, not a 500");
  assert.equal(admin(), undefined);
});

Deno.test("wrong passwords from one client are slowed down, another client is not", async () => {
  const { app } = await afterFirstRun();
  const guesser = new Browser(app, "192.168.1.99");
  await guesser.go("/login");
  for (let i = 0; i < 5; i++) {
    assert.equal(
      (await guesser.go("/login", { csrf: guesser.csrf, password: `guess ${i}` })).status,
      401,
    );
  }
  const slowed = await guesser.go("/login", { csrf: guesser.csrf, password: PASSWORD });
  assert.equal(slowed.status, 429);
  assert.equal(slowed.headers.get("retry-after"), "1");
  assert.match(slowed.text_, /Too many wrong tries/);
  const other = new Browser(app, "192.168.1.30");
  await other.go("/login");
  assert.equal((await other.go("/login", { csrf: other.csrf, password: PASSWORD })).status, 303);
});

Deno.test("a node that is not a member yet says so instead of a blank page", async () => {
  const { app } = ui({ secret: undefined });
  const res = await app.request("http://pi-a:7440/");
  assert.equal(res.status, 503);
  assert.match(await res.text(), /This node is joining/);
});

Deno.test("a form too large, or not a form, is refused; an unreadable cluster state gives a page that says so", async () => {
  const { app, admin } = ui();
  const b = new Browser(app);
  await b.go("/setup");
  const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const post = (body: string, type = "application/x-www-form-urlencoded") =>
    app.request("http://pi-a:7440/setup", {
      method: "POST",
      headers: { host: "pi-a:7440", cookie, "content-type": type },
      body,
    });
  const code = setupCode(SECRET);
  const big = new URLSearchParams({ csrf: b.csrf, code, password: "x".repeat(9000), again: "x" });
  assert.equal((await post(big.toString())).status, 403);
  const json = JSON.stringify({ csrf: b.csrf, code, password: PASSWORD, again: PASSWORD });
  assert.equal((await post(json, "application/json")).status, 403);
  assert.equal(admin(), undefined, "nothing was set");

  const broken = createUi({
    api: () => Promise.reject(new Error("not asked")),
    nodeName: "pi-a",
    domain: "fossora.home.arpa",
    secret: () => SECRET,
    admin: {
      get: () => Promise.reject(new Error("etcd: no leader")),
      create: () => Promise.reject(new Error("etcd: no leader")),
      replace: () => Promise.reject(new Error("etcd: no leader")),
    },
  });
  const res = await broken.request("http://pi-a:7440/login");
  assert.equal(res.status, 503);
  assert.match(await res.text(), /cannot reach the cluster(&#39;|')s database right now/);
});

Deno.test("the login page over plain HTTP from the LAN warns and links to HTTPS; from the tailnet it does not", async () => {
  const { app } = testUi({ ui: { httpsPort: () => 7443 } });
  const lan = new Browser(app, "192.168.1.20");
  await lan.go("/setup");
  const setup = await lan.go("/setup");
  assert.match(setup.text_, /This page is not encrypted/);
  assert.match(setup.text_, /href="https:\/\/pi-a:7443\/setup"/);
  const tailnet = new Browser(app, "100.101.1.2");
  assert.doesNotMatch((await tailnet.go("/setup")).text_, /not encrypted/);
  const trust = await lan.go("/trust");
  assert.equal(trust.status, 200);
  assert.match(trust.text_, /href="\/api\/v1\/ca.crt"/);
});

Deno.test("the API takes a UI session as the token: reads with the cookie, writes with its CSRF token too", async () => {
  const { app, b, view } = await signedIn();
  const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const read = await app.request("http://pi-a:7440/api/v1/services", { headers: { cookie } });
  assert.equal(read.status, 200);
  const del = (headers: Record<string, string>) =>
    app.request("http://pi-a:7440/api/v1/services/mc", { method: "DELETE", headers });
  assert.equal((await del({ cookie })).status, 401, "a write needs the CSRF token");
  assert.equal((await del({ cookie, "x-csrf-token": "forged" })).status, 401);
  assert.ok(view.service("mc"));
  assert.equal((await del({ cookie, "x-csrf-token": b.csrf })).status, 200);
  assert.equal(view.service("mc"), undefined);
  const stranger = await app.request("http://pi-a:7440/api/v1/services", {
    headers: { cookie: "fossora_session=forged" },
  });
  assert.equal(stranger.status, 401);
});

Deno.test("a form sent without a length is cut off at the limit, not read whole", async () => {
  const { app } = ui();
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new TextEncoder().encode("a=" + "x".repeat(64 * 1024) + "&"));
    },
  });
  const res = await app.request("http://pi-a:7440/login", {
    method: "POST",
    headers: { host: "pi-a:7440", "content-type": "application/x-www-form-urlencoded" },
    body: endless,
  });
  assert.equal(res.status, 403);
  await res.body?.cancel();
  assert.ok(pulled < 5, `read ${pulled} chunks of 64 KiB for an 8 KiB form`);
});

Deno.test("over HTTPS the cookies are __Host- and Secure, and a plain-HTTP cookie is not taken there", async () => {
  const { app, b } = await signedIn();
  const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  const plain = await app.request("https://pi-a:7443/", { headers: { host: "pi-a:7443", cookie } });
  assert.equal(plain.headers.get("location"), "/login", "the HTTP session does not count");
  await plain.body?.cancel();
  const page = await app.request("https://pi-a:7443/login", { headers: { host: "pi-a:7443" } });
  const form = page.headers.getSetCookie().find((l) => l.startsWith("__Host-fossora_form="));
  assert.match(form ?? "", /Secure/);
  assert.match(form ?? "", /Path=\//);
  await page.body?.cancel();
});

Deno.test("a page that fails unexpectedly is a page that says so, not JSON or a stack trace", async () => {
  const logged: string[] = [];
  const { b } = await signedIn({
    ui: {
      // An API that answers 200 with no JSON: nothing the pages expect.
      api: () => Promise.resolve(new Response("not json")),
      log: createLogger("ui", { sink: (l) => logged.push(l) }),
    },
  });
  const res = await b.go("/services/whoami");
  assert.equal(res.status, 500);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  assert.match(res.text_, /Something went wrong/);
  assert.doesNotMatch(res.text_, /TypeError|\.tsx?:\d+/);
  assert.ok(logged.some((l) => l.includes("a page failed")), "the log says why");
});
