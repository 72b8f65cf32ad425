import assert from "node:assert/strict";
import { forwardingFields, TrustedProxies } from "./forwarded.ts";

Deno.test("trusted proxies match addresses and CIDRs, IPv4, IPv6 and IPv4-mapped", () => {
  const t = new TrustedProxies(["192.168.1.2", "10.0.0.0/8", "fd00::/8", "2001:db8::1"]);
  for (const yes of ["192.168.1.2", "10.200.3.4", "::ffff:10.0.0.1", "fd12::5", "2001:db8::1"]) {
    assert.ok(t.has(yes), yes);
  }
  for (const no of ["192.168.1.3", "11.0.0.1", "fe80::1", "2001:db8::2", "", "garbage"]) {
    assert.ok(!t.has(no), no);
  }
  assert.ok(new TrustedProxies(["0.0.0.0/0"]).has("203.0.113.9"));
  assert.ok(!new TrustedProxies([]).has("127.0.0.1"), "nobody is trusted by default");
});

Deno.test("a trusted proxy entry that is not an address or CIDR is refused by name", () => {
  for (const bad of ["10.0.0.0/33", "10.0.0/8", "fd00::/129", "1.2.3.4/8/8", "host.lan", "/8"]) {
    assert.throws(() => new TrustedProxies([bad]), new RegExp(bad.replace(/[./]/g, "\\$&")));
  }
});

Deno.test("forwarding fields: ours alone for a client, the chain extended for a proxy", () => {
  const seen = { peer: "fd00::7", host: "web.x", proto: "http" as const, port: 80 };
  const own = Object.fromEntries(forwardingFields(seen, []).map((f) => [f.name, f.value]));
  assert.deepEqual(own, {
    "x-forwarded-for": "fd00::7",
    "x-forwarded-host": "web.x",
    "x-forwarded-proto": "http",
    "x-forwarded-port": "80",
    "x-real-ip": "fd00::7",
    forwarded: 'for="[fd00::7]";host="web.x";proto=http',
  });
  const kept = [{ name: "x-forwarded-for", raw: "X-Forwarded-For", value: "203.0.113.1" }, {
    name: "x-forwarded-proto",
    raw: "X-Forwarded-Proto",
    value: "https",
  }];
  const chained = Object.fromEntries(forwardingFields(seen, kept).map((f) => [f.name, f.value]));
  assert.equal(chained["x-forwarded-for"], "203.0.113.1, fd00::7");
  assert.equal(chained["x-forwarded-proto"], "https");
});
