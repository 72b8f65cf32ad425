import assert from "node:assert/strict";
import { LoginThrottle } from "./throttle.ts";

Deno.test("tries sent at once are counted before they are judged: past five, each waits", () => {
  let now = 0;
  const t = new LoginThrottle({ now: () => now });
  // Ten tries in the same instant, none judged yet: five go, the rest wait.
  const waits = Array.from({ length: 10 }, () => t.attempt("10.0.0.9"));
  assert.deepEqual(waits.map((w) => w > 0), [
    false,
    false,
    false,
    false,
    false,
    true,
    true,
    true,
    true,
    true,
  ]);
  assert.equal(t.attempt("10.0.0.8"), 0, "another client is not slowed");
  now += 1000;
  assert.equal(t.attempt("10.0.0.9"), 0, "the sixth after a second");
  assert.ok(t.attempt("10.0.0.9") >= 1000, "then two seconds");
  t.succeeded("10.0.0.9");
  assert.equal(t.attempt("10.0.0.9"), 0, "a right password starts afresh");
});

Deno.test("a client quiet for 15 minutes starts afresh, and memory stays bounded", () => {
  let now = 0;
  const t = new LoginThrottle({ now: () => now, maxClients: 3 });
  for (let i = 0; i < 8; i++) t.attempt("a");
  now += 15 * 60_000;
  assert.equal(t.wait("a"), 0);
  for (const c of ["b", "c", "d", "e"]) for (let i = 0; i < 7; i++) t.failed(c);
  assert.equal(t.wait("b"), 0, "the oldest was dropped");
  assert.ok(t.wait("e") > 0);
});
