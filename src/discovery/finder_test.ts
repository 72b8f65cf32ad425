import assert from "node:assert/strict";
import { Finder } from "./finder.ts";
import type { MdnsDiscovery } from "./mdns.ts";
import type { TailscaleStatus } from "./tailscale.ts";

function mdnsWith(
  list: { address: string; apiPort: number; clusterId?: string; id?: string; name?: string }[],
) {
  return { candidates: () => list } as unknown as MdnsDiscovery;
}

Deno.test("candidates: static first, then mDNS nodes of a cluster, without repeats", () => {
  const finder = new Finder({
    static: ["10.0.0.1:7440"],
    mdns: mdnsWith([
      { address: "10.0.0.2", apiPort: 7440, clusterId: "c1" },
      { address: "10.0.0.3", apiPort: 7440 }, // no cluster yet: nothing to join
      { address: "10.0.0.1", apiPort: 7440, clusterId: "c1" },
    ]),
  });
  assert.deepEqual(finder.candidates(), ["10.0.0.1:7440", "10.0.0.2:7440"]);
});

Deno.test("lone nodes: those mDNS shows without a cluster, by id and name", () => {
  const finder = new Finder({
    static: [],
    mdns: mdnsWith([
      { address: "10.0.0.2", apiPort: 7440, clusterId: "c1", id: "b0", name: "member" },
      { address: "10.0.0.3", apiPort: 7440, id: "a0", name: "new" },
    ]),
  });
  assert.deepEqual(finder.loneNodes(), [{ id: "a0", name: "new" }]);
});

Deno.test("peers: the mDNS nodes of a cluster with their cluster, not --join's addresses", () => {
  const finder = new Finder({
    static: ["10.0.0.1:7440"],
    mdns: mdnsWith([
      { address: "10.0.0.2", apiPort: 7440, clusterId: "c1" },
      { address: "10.0.0.3", apiPort: 7441 },
    ]),
  });
  assert.deepEqual(finder.peers(), [{ address: "10.0.0.2:7440", cluster: "c1" }]);
});

Deno.test("tailnet peers whose API answers as a ready fossora agent become candidates", async () => {
  const ready = Deno.serve(
    { hostname: "127.0.0.2", port: 0, onListen() {} },
    () => Response.json({ ready: true, node: "pi-1" }),
  );
  const port = ready.addr.port;
  const status = {
    BackendState: "Running",
    TailscaleIPs: ["100.64.0.1"],
    User: new Map(),
    CertDomains: [],
    Self: { TailscaleIPs: ["100.64.0.1"], Online: true },
    Peer: new Map([
      ["nodekey:a", { TailscaleIPs: ["127.0.0.2"], Online: true }],
      ["nodekey:b", { TailscaleIPs: ["127.0.0.3"], Online: true }],
      ["nodekey:c", { TailscaleIPs: ["127.0.0.4"], Online: false }],
    ]),
  } as unknown as TailscaleStatus;
  const finder = new Finder({
    static: [],
    tailscale: { client: { status: () => Promise.resolve(status) }, apiPort: port },
    tailnetEveryMs: 50,
  });
  try {
    finder.start();
    const deadline = Date.now() + 5000;
    while (finder.candidates().length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(finder.candidates(), [`127.0.0.2:${port}`]);
    assert.deepEqual(finder.peers(), [{ address: `127.0.0.2:${port}` }]);
  } finally {
    await finder.stop();
    await ready.shutdown();
  }
});
