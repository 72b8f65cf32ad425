import assert from "node:assert/strict";
import { freePort } from "../../test/helpers/ports.ts";
import { ensureNodeCerts, loadOrCreateCA } from "./certs.ts";
import { connectEtcd } from "./client.ts";
import { EtcdSupervisor } from "./supervisor.ts";

Deno.test("a member that advertises an address it does not listen on is healthy and reachable on loopback", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
  const ca = await loadOrCreateCA(`${dir}/pki`);
  // The advertised address is not on this machine: bound to loopback only, as the bench runs it.
  const tls = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n", ips: ["192.0.2.77"] });
  const etcd = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n",
    clientPort: freePort(),
    peerPort: freePort(),
    host: "192.0.2.77",
    listenHost: "127.0.0.1",
    tls,
  });
  try {
    await etcd.start();
    assert.match(etcd.clientUrl, /^https:\/\/192\.0\.2\.77:/);
    const client = connectEtcd([etcd.localClientUrl], tls);
    try {
      await client.put("k").value("v").exec();
      assert.equal(await client.get("k").string(), "v");
    } finally {
      client.close();
    }
  } finally {
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
