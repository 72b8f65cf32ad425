import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

Deno.test("backoff doubles up to its cap", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 500, resetAfterMs: 10_000 });
  assert.deepEqual([0, 1, 2, 3, 4].map((t) => b.next(t)), [100, 200, 400, 500, 500]);
});

Deno.test("backoff starts over after a quiet period", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 500, resetAfterMs: 1000 });
  b.next(0);
  b.next(10);
  assert.equal(b.next(5000), 100);
});

Deno.test("backoff without a quiet period keeps growing until reset", () => {
  const b = new Backoff({ initialMs: 500, maxMs: 2000 });
  assert.deepEqual([0, 1e9, 2e9, 3e9].map((t) => b.next(t)), [500, 1000, 2000, 2000]);
  b.reset();
  assert.equal(b.next(4e9), 500);
});
