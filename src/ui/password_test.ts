import assert from "node:assert/strict";
import { hashPassword, passwordProblem, verifyPassword } from "./password.ts";

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
