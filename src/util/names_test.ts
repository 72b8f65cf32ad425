import assert from "node:assert/strict";
import { isDnsLabel } from "./names.ts";

Deno.test("isDnsLabel takes lowercase letters, digits and inner dashes, 1 to 63 long", () => {
  for (const good of ["a", "web", "web-1", "0", "a".repeat(63)]) assert.ok(isDnsLabel(good), good);
  const bad = ["", "-a", "a-", "Web", "a_b", "a.b", "é", "a".repeat(64), "a\n"];
  for (const b of bad) assert.ok(!isDnsLabel(b), JSON.stringify(b));
});
