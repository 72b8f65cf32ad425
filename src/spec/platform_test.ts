import assert from "node:assert/strict";
import { checkPlatform } from "./platform.ts";
import type { Problems } from "./problems.ts";

Deno.test("a platform is linux/ARCH[/VARIANT] of a known architecture", () => {
  const out: Problems = [];
  for (const ok of ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm64/v8"]) {
    assert.equal(checkPlatform(ok, "p", out), ok);
  }
  assert.equal(out.length, 0);
  for (const bad of ["arm64", "linux/", "windows/amd64", "linux/x86_64", "linux/arm/7", 5]) {
    checkPlatform(bad, "p", out);
  }
  assert.deepEqual(out.map((p) => p.message), [
    "'arm64' is not a platform; write os/arch[/variant], e.g. linux/arm64",
    "'linux/' is not a platform; write os/arch[/variant], e.g. linux/arm64",
    "'windows' is not an OS fossora runs on; write linux/amd64",
    "unknown architecture 'x86_64'; known architectures are amd64, arm64, arm, 386, riscv64, ppc64le, s390x",
    "'linux/arm/7' is not a platform; write os/arch[/variant], e.g. linux/arm64",
    "expected a platform such as linux/arm64, found the number 5",
  ]);
});
