import assert from "node:assert/strict";
import { checkCapability, parseCapability } from "./capability.ts";
import type { Problems } from "./problems.ts";

Deno.test("capabilities take CAP_ or not, any case, and ALL; stored as CAP_NAME", () => {
  assert.equal(parseCapability("NET_ADMIN"), "CAP_NET_ADMIN");
  assert.equal(parseCapability("CAP_SYS_TIME"), "CAP_SYS_TIME");
  assert.equal(parseCapability("net_raw"), "CAP_NET_RAW");
  assert.equal(parseCapability("ALL"), "ALL");
  assert.equal(parseCapability("all"), "ALL");
  for (const bad of ["NET_ADMINS", "", "CAP_", "SYS ADMIN", 5, null]) {
    assert.equal(parseCapability(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("an unknown capability suggests the near one and says what to write", () => {
  const out: Problems = [];
  assert.equal(checkCapability("NET_ADMN", "capAdd[0]", out), undefined);
  assert.equal(checkCapability(3, "capAdd[1]", out), undefined);
  assert.deepEqual(out, [
    {
      path: "capAdd[0]",
      message: "unknown capability 'NET_ADMN' (did you mean 'NET_ADMIN'?); write a Linux " +
        "capability such as NET_ADMIN or SYS_TIME (CAP_ is optional), or ALL",
    },
    { path: "capAdd[1]", message: "expected a capability such as NET_ADMIN, found the number 3" },
  ]);
});
