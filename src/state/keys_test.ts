import assert from "node:assert/strict";
import { families, keyOf, parseKey, prefixOf } from "./keys.ts";

Deno.test("keys round-trip through parseKey", () => {
  const key = keyOf(families.replicas, "n1", "web", "0");
  assert.equal(key, "/fossora/v1/replicas/n1/web/0");
  assert.deepEqual(parseKey(key), { family: families.replicas, ids: ["n1", "web", "0"] });
});

Deno.test("keys refuse parts that would collide with another key", () => {
  assert.throws(() => keyOf(families.services, "a/b"), /invalid key part/);
  assert.throws(() => keyOf(families.services, ""), /invalid key part/);
  assert.throws(() => keyOf(families.assignments, "web"), /2 parts/);
});

Deno.test("prefixes select one service's assignments only", () => {
  assert.equal(prefixOf(families.assignments, "web"), "/fossora/v1/assignments/web/");
  assert.equal(parseKey("/fossora/v1/assignments/web"), undefined);
  assert.equal(parseKey("/other/key"), undefined);
});
