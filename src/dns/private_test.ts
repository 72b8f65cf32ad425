import assert from "node:assert/strict";
import { ipv6Bytes } from "../util/ip.ts";
import { mayRecurse } from "./private.ts";
import { ipv4Bytes } from "./wire.ts";

const ip = (text: string) => ipv4Bytes(text) ?? ipv6Bytes(text)!;

Deno.test("recursion is offered to home, tailnet, loopback and link-local addresses", () => {
  for (
    const a of [
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.10",
      "100.64.0.1",
      "100.127.255.254",
      "127.0.0.1",
      "169.254.3.4",
      "::1",
      "fd12:3456::1",
      "fc00::1",
      "fe80::1",
      "::ffff:192.168.1.2",
    ]
  ) assert.equal(mayRecurse(ip(a)), true, a);
});

Deno.test("recursion is refused to public addresses, look-alike ranges included", () => {
  for (
    const a of [
      "8.8.8.8",
      "172.32.0.1",
      "172.15.255.255",
      "192.169.0.1",
      "100.128.0.1",
      "100.63.255.255",
      "11.0.0.1",
      "2001:db8::1",
      "2606:4700::1111",
      "::ffff:8.8.8.8",
      "::2",
      "fec0::1",
    ]
  ) assert.equal(mayRecurse(ip(a)), false, a);
  assert.equal(mayRecurse(new Uint8Array(5)), false);
});
