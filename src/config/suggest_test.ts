import assert from "node:assert/strict";
import { closest, editDistance } from "./suggest.ts";

Deno.test("edit distance counts single-character edits", () => {
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("same", "same"), 0);
});

Deno.test("closest suggests typos and case or underscore slips, not unrelated words", () => {
  const keys = ["data-dir", "http-port", "dns-port", "name"];
  assert.equal(closest("htp-port", keys), "http-port");
  assert.equal(closest("DATA_DIR", keys), "data-dir");
  assert.equal(closest("wifi-password", keys), undefined);
});
