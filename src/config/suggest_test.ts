import assert from "node:assert/strict";
import { closest } from "./suggest.ts";

Deno.test("closest suggests typos and case or underscore slips, not unrelated words", () => {
  const keys = ["data-dir", "http-port", "dns-port", "name"];
  assert.equal(closest("htp-port", keys), "http-port");
  assert.equal(closest("DATA_DIR", keys), "data-dir");
  assert.equal(closest("wifi-password", keys), undefined);
});
