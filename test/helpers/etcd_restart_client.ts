/**
 * A program for the http2 guard's test: one etcd client, connected while its member restarts
 * ROUNDS times (each restart sends the client a GOAWAY), writing and reading after each. It
 * prints "round N" as it goes; a crash of the runtime ends it early with a signal.
 * Usage: deno run -A test/helpers/etcd_restart_client.ts ROUNDS
 * @module
 */
import { connectEtcd } from "../../src/etcd/client.ts";
import { startEtcd } from "./etcd.ts";

const rounds = Number(Deno.args[0] ?? 10);
await using etcd = await startEtcd();
for (let i = 0; i < rounds; i++) {
  const client = connectEtcd([etcd.url], etcd.tls);
  try {
    await client.put("k").value(String(i)).exec();
    await etcd.supervisor.restartWith({ heartbeatMs: 100 + 50 * (i % 2), electionMs: 1500 });
    if (await client.get("k").string() !== String(i)) throw new Error(`round ${i}: lost k`);
  } finally {
    client.close();
  }
  console.log(`round ${i}`);
}
