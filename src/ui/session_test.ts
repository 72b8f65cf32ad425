import assert from "node:assert/strict";
import { Sessions } from "./session.ts";
import { isSetupCode, setupCode } from "./setup_code.ts";
import { LoginThrottle } from "./throttle.ts";

Deno.test("a session cookie is good on every node with the secret, until it expires or the password changes", () => {
  let now = 1_000_000;
  const a = new Sessions("cluster secret", { now: () => now, ttlMs: 60_000 });
  const b = new Sessions("cluster secret", { now: () => now, ttlMs: 60_000 });
  const stranger = new Sessions("another cluster", { now: () => now });
  const cookie = a.issue("epoch-1");
  const s = b.check(cookie, "epoch-1");
  assert.ok(s, "another node accepts it");
  assert.equal(stranger.check(cookie, "epoch-1"), undefined, "another cluster does not");
  assert.equal(b.check(cookie, "epoch-2"), undefined, "a new password ends it");
  const [v, sid, exp, sig] = cookie.split(".");
  assert.equal(b.check([v, sid, String(Number(exp) + 3600), sig].join("."), "epoch-1"), undefined);
  assert.equal(b.check("v1.x.y", "epoch-1"), undefined);
  assert.equal(b.check(undefined, "epoch-1"), undefined);
  // CSRF tokens belong to one session.
  assert.ok(b.checkCsrf(s!.sid, a.csrf(s!.sid)));
  assert.equal(b.checkCsrf(s!.sid, a.csrf("other")), false);
  assert.equal(b.checkCsrf(s!.sid, undefined), false);
  now += 61_000;
  assert.equal(b.check(cookie, "epoch-1"), undefined, "expired");
});

Deno.test("the setup code is the same on every node, readable, and typed any way", () => {
  const code = setupCode("cluster secret");
  assert.match(code, /^[A-HJKMNP-TV-Z2-9]{4}-[A-HJKMNP-TV-Z2-9]{4}-[A-HJKMNP-TV-Z2-9]{4}$/);
  assert.equal(setupCode("cluster secret"), code);
  assert.notEqual(setupCode("another"), code);
  assert.ok(isSetupCode(code.toLowerCase().replaceAll("-", " "), code));
  assert.equal(isSetupCode(code.slice(0, 13), code), false);
  assert.equal(isSetupCode("", code), false);
});

Deno.test("wrong passwords cost nothing at first, then the wait doubles per client, and a right one starts afresh", () => {
  let now = 0;
  const t = new LoginThrottle({ now: () => now, free: 2, maxDelayMs: 4_000, forgetMs: 60_000 });
  t.failed("a");
  t.failed("a");
  assert.equal(t.wait("a"), 1_000);
  assert.equal(t.wait("b"), 0, "another client is not slowed");
  now += 1_000;
  assert.equal(t.wait("a"), 0);
  t.failed("a");
  assert.equal(t.wait("a"), 2_000);
  t.failed("a");
  t.failed("a");
  assert.equal(t.wait("a"), 4_000, "capped");
  t.succeeded("a");
  assert.equal(t.wait("a"), 0);
  t.failed("c");
  t.failed("c");
  now += 60_000;
  assert.equal(t.wait("c"), 0, "forgotten after a quiet while");
});
