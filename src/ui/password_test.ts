import assert from "node:assert/strict";
import { BusyError, hashPassword, passwordProblem, verifyPassword } from "./password.ts";

Deno.test("a password hashes with a fresh salt and verifies only itself", async () => {
  const a = await hashPassword("correct horse battery");
  const b = await hashPassword("correct horse battery");
  assert.match(a, /^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.notEqual(a, b, "salted");
  assert.equal(await verifyPassword("correct horse battery", a), true);
  assert.equal(await verifyPassword("correct horse batter", a), false);
  // Unicode forms of one text are one password.
  const cafe = await hashPassword("caf\u00e9 au lait!");
  assert.equal(await verifyPassword("cafe\u0301 au lait!", cafe), true);
});

Deno.test("a stored hash that is not ours, or asks for absurd costs, never verifies", async () => {
  for (
    const stored of [
      "",
      "plain",
      "scrypt$15$8$1$c2FsdA==",
      "scrypt$30$8$1$c2FsdA==$aGFzaA==",
      "bcrypt$x",
    ]
  ) {
    assert.equal(await verifyPassword("anything at all", stored), false, stored);
  }
});

Deno.test("a new password must be long enough and typed the same twice", () => {
  assert.match(passwordProblem("short", "short")!, /at least 10 characters/);
  assert.match(passwordProblem("long enough one", "long enough two")!, /differ/);
  assert.equal(passwordProblem("long enough one", "long enough one"), undefined);
});

Deno.test("password checks run two at a time, and past a queue of 32 say the node is busy", async () => {
  const stored = await hashPassword("a long enough password");
  const checks = Array.from({ length: 40 }, () => verifyPassword("wrong but long", stored));
  const results = await Promise.allSettled(checks);
  const busy = results.filter((r) => r.status === "rejected");
  assert.equal(busy.length, 40 - 2 - 32);
  assert.ok(busy.every((r) => (r as PromiseRejectedResult).reason instanceof BusyError));
  assert.ok(results.every((r) => r.status === "rejected" || r.value === false));
  // The slots are all free again.
  assert.equal(await verifyPassword("a long enough password", stored), true);
});
