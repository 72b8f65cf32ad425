/**
 * A program for the http2 guard's test: one etcd client, connected while its member restarts
 * ROUNDS times (each restart sends the client a GOAWAY), writing and reading after each. It
 * prints "round N" as it goes; a crash of the runtime ends it early with a signal.
 * Usage: deno run -A test/helpers/etcd_restart_client.ts ROUNDS
 * @module
 */
import { connectEtcd } from "../../src/etcd/client.ts";
import { ensureNodeCerts, loadOrCreateCA } from "../../src/etcd/certs.ts";
import { EtcdSupervisor } from "../../src/etcd/supervisor.ts";
import { freePort } from "./ports.ts";

const rounds = Number(Deno.args[0] ?? 10);
const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
const ca = await loadOrCreateCA(`${dir}/pki`);
const tls = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n", ips: [] });
const etcd = new EtcdSupervisor({
  bin: "etcd",
  dataDir: `${dir}/etcd`,
  name: "n",
  clientPort: freePort(),
  peerPort: freePort(),
  tls,
});
try {
  await etcd.start();
  for (let i = 0; i < rounds; i++) {
    const client = connectEtcd([etcd.localClientUrl], tls);
    try {
      await client.put("k").value(String(i)).exec();
      await etcd.restartWith({ heartbeatMs: 100 + 50 * (i % 2), electionMs: 1500 });
      if (await client.get("k").string() !== String(i)) throw new Error(`round ${i}: lost k`);
    } finally {
      client.close();
    }
    console.log(`round ${i}`);
  }
} finally {
  await etcd.stop();
  await Deno.remove(dir, { recursive: true });
}
