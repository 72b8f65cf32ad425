import assert from "node:assert/strict";
import { addressProblem, probeHost } from "./address.ts";

Deno.test("ports are probed on the node's address, or loopback when published on any", () => {
  assert.equal(probeHost("192.168.1.20"), "192.168.1.20");
  assert.equal(probeHost("127.0.0.1"), "127.0.0.1");
  assert.equal(probeHost("0.0.0.0"), "127.0.0.1");
  assert.equal(probeHost("::"), "::1");
  assert.equal(probeHost("fd00::2"), "fd00::2");
});

Deno.test("only an IP literal can publish ports", () => {
  for (const ok of ["10.0.0.1", "0.0.0.0", "fd00::2"]) assert.equal(addressProblem(ok), undefined);
  for (const bad of ["", "host.local", "10.0.0.256", undefined, 5]) {
    assert.match(addressProblem(bad)!, /IP literal .*pass the advertise address/);
  }
});
