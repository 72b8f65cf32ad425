import assert from "node:assert/strict";
import { queryCount, queryFlag } from "./params.ts";
import { ApiError } from "./errors.ts";

Deno.test("queryFlag reads the usual spellings of true", () => {
  for (const v of ["1", "true", "yes", "", "TRUE"]) assert.equal(queryFlag(v), true, v);
  for (const v of [undefined, "0", "false", "no"]) assert.equal(queryFlag(v), false, String(v));
});

Deno.test("queryCount accepts whole numbers and refuses the rest with a 400 naming the parameter", () => {
  assert.equal(queryCount("tail", undefined), undefined);
  assert.equal(queryCount("tail", "0"), 0);
  assert.equal(queryCount("tail", "250"), 250);
  for (const bad of ["-1", "1.5", "abc", "1e3", "9999999999"]) {
    assert.throws(() => queryCount("tail", bad), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 400);
      assert.match(e.message, /^tail must be/);
      return true;
    });
  }
});
