import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";

Deno.test("concatBytes joins in order, skips undefined, and always copies", () => {
  const a = new Uint8Array([1, 2]);
  const joined = concatBytes([a, undefined, new Uint8Array(0), new Uint8Array([3])]);
  assert.deepEqual(joined, new Uint8Array([1, 2, 3]));
  const alone = concatBytes([a]);
  a[0] = 9;
  assert.equal(alone[0], 1, "a copy, not the caller's buffer");
  assert.deepEqual(concatBytes([]), new Uint8Array(0));
});
