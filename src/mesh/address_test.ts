import assert from "node:assert/strict";
import {
  addressClashes,
  inSubnet,
  stackOfSource,
  VIRTUAL_BLOCK,
  virtualAddress,
} from "./address.ts";

Deno.test("a service's virtual address is in 198.18.0.0/15, the same every time, and differs between stacks", () => {
  const a = virtualAddress("db.shop");
  assert.equal(a, virtualAddress("db.shop"));
  assert.ok(inSubnet(a, VIRTUAL_BLOCK), a);
  assert.notEqual(a, virtualAddress("db.blog"));
  for (let i = 0; i < 2000; i++) {
    const v = virtualAddress(`s${i}.x`);
    assert.ok(inSubnet(v, VIRTUAL_BLOCK), v);
    assert.ok(v !== "198.18.0.0" && v !== "198.19.255.255", v);
  }
});

Deno.test("services of one stack that hash to one address are found", () => {
  assert.deepEqual(addressClashes(["db.s", "web.s", "cache.s"]), []);
  // Find two names that clash, to prove the check can fail.
  const seen = new Map<string, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; !pair; i++) {
    const n = `n${i}.s`;
    const a = virtualAddress(n);
    const first = seen.get(a);
    if (first) pair = [first, n];
    seen.set(a, n);
  }
  assert.deepEqual(addressClashes([pair[1], pair[0], "other.s"]), [[...pair].sort()] as [
    string,
    string,
  ][]);
});

Deno.test("a connection's stack is the one whose network its source is on; anything else has none", () => {
  const subnets = new Map([["shop", "172.18.0.0/16"], ["blog", "172.19.0.0/16"]]);
  assert.equal(stackOfSource("172.18.0.5", subnets), "shop");
  assert.equal(stackOfSource("::ffff:172.19.3.4", subnets), "blog");
  // The LAN, the node itself, Docker's default bridge, garbage.
  for (const other of ["192.168.1.20", "127.0.0.1", "172.17.0.2", "", "not-an-ip", "::1"]) {
    assert.equal(stackOfSource(other, subnets), undefined, other);
  }
  assert.equal(inSubnet("10.1.2.3", "10.0.0.0/8"), true);
  assert.equal(inSubnet("11.1.2.3", "10.0.0.0/8"), false);
  assert.equal(inSubnet("10.1.2.3", "10.0.0.0/40"), false);
});
