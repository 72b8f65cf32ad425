import assert from "node:assert/strict";
import { checkExtraHosts, parseExtraHost } from "./extra_host.ts";
import type { Problems } from "./problems.ts";

Deno.test("extra hosts are NAME:ADDRESS or NAME=ADDRESS, IPv4, IPv6 or host-gateway", () => {
  assert.deepEqual(parseExtraHost("nas.lan:192.168.1.10"), { value: "nas.lan:192.168.1.10" });
  assert.deepEqual(parseExtraHost("nas.lan=192.168.1.10"), { value: "nas.lan:192.168.1.10" });
  assert.deepEqual(parseExtraHost("v6:fd00::1"), { value: "v6:fd00::1" });
  assert.deepEqual(parseExtraHost("v6=[fd00::1]"), { value: "v6:fd00::1" });
  assert.deepEqual(parseExtraHost("host.docker.internal:host-gateway"), {
    value: "host.docker.internal:host-gateway",
  });
  const out: Problems = [];
  assert.deepEqual(checkExtraHosts({ "nas.lan": "10.0.0.5" }, "e", out), ["nas.lan:10.0.0.5"]);
  assert.deepEqual(out, []);
});

Deno.test("an extra host without a name, or with an address that is none, is refused", () => {
  const out: Problems = [];
  assert.equal(
    checkExtraHosts(["nas.lan", "nas.lan:999.1.1.1", "bad name:10.0.0.1", 7], "e", out),
    undefined,
  );
  assert.equal(checkExtraHosts("nas:1.2.3.4", "s", out), undefined);
  assert.deepEqual(out, [
    { path: "e[0]", message: "'nas.lan' is not NAME:ADDRESS; write e.g. nas.lan:192.168.1.10" },
    {
      path: "e[1]",
      message:
        "'999.1.1.1' is not an IP address; write one such as 192.168.1.10, or host-gateway for the node itself",
    },
    {
      path: "e[2]",
      message: "'bad name' is not a host name; use letters, digits, '.', '-' and '_'",
    },
    {
      path: "e[3]",
      message: "expected NAME:ADDRESS such as nas.lan:192.168.1.10, found the number 7",
    },
    {
      path: "s",
      message: 'expected a list such as [nas.lan:192.168.1.10], found a string ("nas:1.2.3.4")',
    },
  ]);
});
