/**
 * The agent's etcd client on a real member: a burst of dropped connections must not make the
 * calls that follow fail at once.
 */
import assert from "node:assert/strict";
import type { Etcd3 } from "etcd3";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { EtcdBalancer } from "./balancer.ts";
import { connectEtcd } from "./client.ts";

Deno.test("a call made just after a burst of dropped connections waits for etcd instead of failing on the open breaker", async () => {
  await using etcd = await startEtcd();
  // The balancer stands between client and member so the test can drop every connection
  // (an endpoint nobody listens on) and restore them at will.
  const lb = new EtcdBalancer({ endpoints: [etcd.url] });
  let client: Etcd3 | undefined;
  try {
    await lb.start();
    client = connectEtcd([lb.url], etcd.tls);
    await client.put("k").value("v");

    lb.setEndpoints([`https://127.0.0.1:${freePort()}`]);
    // One call's retries are enough failures in a row to open the breaker.
    await assert.rejects(client.get("k").string());
    lb.setEndpoints([etcd.url]);
    const t0 = Date.now();
    assert.equal(await client.get("k").string(), "v");
    console.log(`  answered ${Date.now() - t0} ms after etcd was back`);
  } finally {
    client?.close();
    await lb.stop();
  }
});
