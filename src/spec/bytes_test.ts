import assert from "node:assert/strict";
import { checkBytes, parseBytes } from "./bytes.ts";
import type { Problems } from "./problems.ts";

Deno.test("sizes are bytes or Docker's binary units", () => {
  assert.equal(parseBytes(1024), 1024);
  assert.equal(parseBytes("64m"), 64 * 1024 ** 2);
  assert.equal(parseBytes("1g"), 1024 ** 3);
  assert.equal(parseBytes("1.5G"), 1.5 * 1024 ** 3);
  assert.equal(parseBytes("512MiB"), 512 * 1024 ** 2);
  assert.equal(parseBytes("100b"), 100);
  assert.equal(parseBytes("8k"), 8192);
  assert.equal(parseBytes(" 2 mb "), 2 * 1024 ** 2);
  for (const bad of [0, -1, "0", "-5m", "1x", "m", "", "1e3", null, true, [], NaN, Infinity]) {
    assert.equal(parseBytes(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("a size check says what to write, and refuses one too small", () => {
  const out: Problems = [];
  assert.equal(checkBytes("64m", "a", out), 64 * 1024 ** 2);
  assert.equal(checkBytes("lots", "b", out, "a /dev/shm size"), undefined);
  assert.equal(checkBytes("1m", "c", out, "a memory limit", 6 * 1024 ** 2), undefined);
  assert.deepEqual(out, [
    {
      path: "b",
      message:
        'expected a /dev/shm size such as 64m, 1g or a number of bytes, found a string ("lots")',
    },
    { path: "c", message: "a memory limit of 1048576 bytes is too small; give at least 6291456" },
  ]);
});
