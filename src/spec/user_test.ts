import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { checkUser } from "./user.ts";

Deno.test("a user is uid, uid:gid, name or name:group; a YAML number is a uid", () => {
  const out: Problems = [];
  for (const ok of ["1000", "1000:1000", "nobody", "www-data:www-data", "postgres:999"]) {
    assert.equal(checkUser(ok, "u", out), ok);
  }
  assert.equal(checkUser(1000, "u", out), "1000");
  assert.equal(out.length, 0);
  for (const bad of ["", "1000:", ":1000", "a b", "root\n", -1, 1.5, "a:b:c"]) {
    assert.equal(checkUser(bad, "u", out), undefined, JSON.stringify(bad));
  }
  assert.match(
    out[0].message,
    /^expected a user such as 1000, 1000:1000, nobody or www-data:www-data/,
  );
});
