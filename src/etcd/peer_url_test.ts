import assert from "node:assert/strict";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { ensureNodeCerts, loadOrCreateCA } from "./certs.ts";
import { connectEtcd } from "./client.ts";
import { otherPeerUrls, updatePeerUrl } from "./peer_url.ts";
import { EtcdSupervisor } from "./supervisor.ts";

Deno.test("a member upgraded from plain HTTP to TLS advertises its https peer URL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-peer-url-" });
  const base = {
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n1",
    clientPort: freePort(),
    peerPort: freePort(),
  };
  const plain = new EtcdSupervisor(base);
  let secure: EtcdSupervisor | undefined;
  try {
    await plain.start();
    await plain.stop();
    const ca = await loadOrCreateCA(`${dir}/pki`);
    const tls = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n1", ips: [] });
    secure = new EtcdSupervisor({ ...base, tls });
    await secure.start();
    const client = connectEtcd([secure.clientUrl], tls);
    try {
      const before = await client.cluster.memberList({});
      assert.deepEqual(before.members[0].peerURLs, [plain.peerUrl], "etcd kept the old URL");
      assert.equal(await updatePeerUrl(client, "n1", secure.peerUrl), true);
      const after = await client.cluster.memberList({});
      assert.deepEqual(after.members[0].peerURLs, [secure.peerUrl]);
      assert.match(secure.peerUrl, /^https:/);
      assert.equal(await updatePeerUrl(client, "n1", secure.peerUrl), false);
      await assert.rejects(updatePeerUrl(client, "nobody", secure.peerUrl), /no member named/);
    } finally {
      client.close();
    }
  } finally {
    await plain.stop();
    await secure?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the other members' peer URLs leave this member out and include a learner not started yet", async () => {
  await using etcd = await startEtcd();
  const { client } = etcd.store;
  assert.deepEqual(await otherPeerUrls(client, "test"), [], "a lone member has no peers");
  const added = await client.cluster.memberAdd({
    peerURLs: ["https://192.0.2.9:2380"],
    isLearner: true,
  });
  try {
    assert.deepEqual(await otherPeerUrls(client, "test"), ["https://192.0.2.9:2380"]);
  } finally {
    await client.cluster.memberRemove({ ID: added.member.ID });
  }
});
