import assert from "node:assert/strict";
import type { LeasedRecords } from "../state/mod.ts";
import { NodePublisher } from "./node.ts";

const record = {
  id: "n1",
  name: "alpha",
  address: "192.168.1.20",
  arch: "amd64",
  site: "home",
  labels: {},
  role: "voter" as const,
  version: "test",
  apiPort: 7440,
  httpPort: 80,
  dnsPort: 53,
};

Deno.test("the node record carries the IPv6 addresses read at each refresh, none when empty", () => {
  let current = ["fd00::20"];
  const publisher = new NodePublisher({
    leased: {} as LeasedRecords,
    record,
    addresses6: () => current,
  });
  assert.deepEqual(publisher.record().addresses6, ["fd00::20"]);
  current = ["2001:db8:1::20", "fd00::20"];
  assert.deepEqual(publisher.record().addresses6, ["2001:db8:1::20", "fd00::20"]);
  current = [];
  assert.equal("addresses6" in publisher.record(), false);
  const fixed = new NodePublisher({
    leased: {} as LeasedRecords,
    record: { ...record, addresses6: ["fd00::1"] },
  });
  assert.deepEqual(fixed.record().addresses6, ["fd00::1"]);
});
