import assert from "node:assert/strict";
import { TtlCache } from "./cache.ts";

Deno.test("a cached value is served until its TTL passes, then forgotten", () => {
  let now = 1_000;
  const cache = new TtlCache<string>(10, () => now);
  cache.set("a", "x", 5_000);
  now += 4_999;
  assert.equal(cache.get("a"), "x");
  now += 1;
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 0);
});

Deno.test("a TTL of zero keeps nothing, and replaces what was kept", () => {
  const cache = new TtlCache<string>(10, () => 0);
  cache.set("a", "x", 1000);
  cache.set("a", "y", 0);
  assert.equal(cache.get("a"), undefined);
});

Deno.test("at the cap the least recently used entry goes first", () => {
  const cache = new TtlCache<number>(3, () => 0);
  cache.set("a", 1, 1000);
  cache.set("b", 2, 1000);
  cache.set("c", 3, 1000);
  assert.equal(cache.get("a"), 1); // a is now the most recent; b the least
  cache.set("d", 4, 1000);
  assert.equal(cache.size, 3);
  assert.equal(cache.get("b"), undefined);
  assert.deepEqual([cache.get("a"), cache.get("c"), cache.get("d")], [1, 3, 4]);
});

Deno.test("a cache of no entries is refused", () => {
  assert.throws(() => new TtlCache(0, Date.now), /above 0/);
});
