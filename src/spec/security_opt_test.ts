import assert from "node:assert/strict";
import { parseSecurityOpt } from "./security_opt.ts";

Deno.test("security options are passed on as the engine takes them, ':' spelled '='", () => {
  assert.deepEqual(parseSecurityOpt("no-new-privileges"), { value: "no-new-privileges" });
  assert.deepEqual(parseSecurityOpt("no-new-privileges:true"), { value: "no-new-privileges=true" });
  assert.deepEqual(parseSecurityOpt("seccomp=unconfined"), { value: "seccomp=unconfined" });
  assert.deepEqual(parseSecurityOpt("seccomp:unconfined"), { value: "seccomp=unconfined" });
  assert.deepEqual(parseSecurityOpt("apparmor=docker-default"), {
    value: "apparmor=docker-default",
  });
  assert.deepEqual(parseSecurityOpt("label=disable"), { value: "label=disable" });
  assert.deepEqual(parseSecurityOpt("label:type:svirt_apache_t"), {
    value: "label=type:svirt_apache_t",
  });
  assert.deepEqual(parseSecurityOpt("systempaths=unconfined"), { value: "systempaths=unconfined" });
});

Deno.test("a profile file, an unknown option or a bad value is refused, saying what can be written", () => {
  assert.match(
    (parseSecurityOpt("seccomp=/etc/profile.json") as { problem: string }).problem,
    /only seccomp=unconfined can be given here \(a profile file would have to be on every node/,
  );
  assert.match(
    (parseSecurityOpt("no-new-privileges:yes") as { problem: string }).problem,
    /no-new-privileges takes true or false, not 'yes'/,
  );
  for (const bad of ["foo=bar", "apparmor=", "privileged", "apparmor=a\nb"]) {
    assert.match(
      (parseSecurityOpt(bad) as { problem: string }).problem,
      /is not a security option fossora passes on; write one of no-new-privileges:true/,
      bad,
    );
  }
});
