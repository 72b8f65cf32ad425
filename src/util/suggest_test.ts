import assert from "node:assert/strict";
import { editDistance, nearest } from "./suggest.ts";

Deno.test("edit distance counts single-character edits", () => {
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("same", "same"), 0);
});

Deno.test("nearest picks the closest candidate within the limit, the first of a tie", () => {
  assert.equal(nearest("prots", ["ports", "env"], { maxDistance: 2 }), "ports");
  assert.equal(nearest("ab", ["ax", "xb"], { maxDistance: 1 }), "ax");
  assert.equal(nearest("abcd", ["wxyz"], { maxDistance: 3 }), undefined);
  assert.equal(nearest("abcd", ["wxyz"], { maxDistance: 4 }), "wxyz");
});

Deno.test("nearest compares normalized words but returns the candidate as given", () => {
  const lower = (s: string) => s.toLowerCase();
  assert.equal(nearest("IMAGE", ["image"], { maxDistance: 0 }), undefined);
  assert.equal(nearest("IMAGE", ["Image"], { maxDistance: 0, normalize: lower }), "Image");
});
