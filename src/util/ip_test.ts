import assert from "node:assert/strict";
import { ipv6Bytes, isIPv6 } from "./ip.ts";

const hex = (b: Uint8Array | undefined) => b && [...b].map((x) => x.toString(16)).join(",");

Deno.test("ipv6Bytes reads full, shortened and IPv4-suffixed addresses", () => {
  assert.equal(hex(ipv6Bytes("::")), "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0");
  assert.equal(hex(ipv6Bytes("::1")), "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1");
  assert.equal(hex(ipv6Bytes("fd00::")), "fd,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0");
  assert.equal(hex(ipv6Bytes("FD00:1::a:2")), "fd,0,0,1,0,0,0,0,0,0,0,0,0,a,0,2");
  assert.equal(
    hex(ipv6Bytes("2001:db8:0:0:1:2:3:4")),
    "20,1,d,b8,0,0,0,0,0,1,0,2,0,3,0,4",
  );
  assert.equal(hex(ipv6Bytes("::ffff:192.0.2.1")), "0,0,0,0,0,0,0,0,0,0,ff,ff,c0,0,2,1");
  assert.equal(hex(ipv6Bytes("1:2:3:4:5:6:7::")), "0,1,0,2,0,3,0,4,0,5,0,6,0,7,0,0");
});

Deno.test("ipv6Bytes refuses what is not one IPv6 address", () => {
  for (
    const bad of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "12345::",
      "g::1",
      "fe80::1%eth0",
      "192.0.2.1",
      "::1.2.3",
      "::1.2.3.256",
      "::1.2.3.4:5",
      ":1::2",
    ]
  ) {
    assert.equal(ipv6Bytes(bad), undefined, bad);
    assert.equal(isIPv6(bad), false, bad);
  }
});
