import assert from "node:assert/strict";
import { randomBase64Url, randomHex } from "./random.ts";

Deno.test("randomHex gives two lowercase hex characters per byte, different each time", () => {
  const a = randomHex(8);
  assert.match(a, /^[0-9a-f]{16}$/);
  assert.notEqual(a, randomHex(8));
});

Deno.test("randomBase64Url gives unpadded base64url of the asked length", () => {
  for (const [bytes, chars] of [[24, 32], [32, 43], [1, 2]]) {
    assert.match(randomBase64Url(bytes), new RegExp(`^[A-Za-z0-9_-]{${chars}}$`));
  }
  assert.notEqual(randomBase64Url(32), randomBase64Url(32));
});
