import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { checkSysctls, sysctlProblem } from "./sysctl.ts";

Deno.test("a container may set its own namespaces' sysctls, as a mapping or NAME=VALUE list", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkSysctls(
      { "net.core.somaxconn": 1024, "kernel.shmmax": "68719476736", "fs.mqueue.msg_max": 64 },
      "s",
      out,
    ),
    { "net.core.somaxconn": "1024", "kernel.shmmax": "68719476736", "fs.mqueue.msg_max": "64" },
  );
  assert.deepEqual(
    checkSysctls(["net.ipv4.ip_forward=1", "kernel.sem = 250 32000 100 128"], "s", out),
    {
      "net.ipv4.ip_forward": "1",
      "kernel.sem": "250 32000 100 128",
    },
  );
  assert.deepEqual(out, []);
});

Deno.test("sysctls of the node, bad names, net.* with host networking and bad values are refused", () => {
  assert.match(sysctlProblem("vm.swappiness")!, /not in the container's own namespaces.*net\.\*/);
  assert.match(sysctlProblem("kernel.hostname")!, /Docker refuses it/);
  assert.match(sysctlProblem("somaxconn")!, /is not a sysctl name; write it dotted/);
  assert.match(sysctlProblem("net.core.somaxconn", true)!, /node's own network.*hostNetwork/);
  assert.equal(sysctlProblem("kernel.msgmax", true), undefined);
  const out: Problems = [];
  assert.equal(
    checkSysctls({ "vm.swappiness": 10, "net.a.b": "x\ny", "net.c.d": {} }, "s", out),
    undefined,
  );
  assert.equal(checkSysctls(["novalue"], "l", out), undefined);
  assert.equal(checkSysctls("net.core.somaxconn=1", "t", out), undefined);
  assert.deepEqual(out.map((p) => p.path), [
    's["vm.swappiness"]',
    's["net.a.b"]',
    's["net.c.d"]',
    "l[0]",
    "t",
  ]);
  assert.equal(out[1].message, "must be one line without NUL; remove the line break");
  assert.equal(out[3].message, 'expected NAME=VALUE, found a string ("novalue")');
});
