import assert from "node:assert/strict";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { connectEtcd } from "../etcd/mod.ts";
import { LeaderElection } from "./election.ts";
import { families, keyOf } from "./keys.ts";
import { LeasedRecords } from "./lease.ts";
import { revokeLiveness } from "./revoke.ts";
import { Store } from "./store.ts";

Deno.test("revoking a dead node's liveness drops its records and frees its role at once, and leaves its locks", async () => {
  await using etcd = await startEtcd();
  // The dead node: its own connection, leases of a minute, so only the revoke can end them.
  const deadClient = connectEtcd([etcd.url], etcd.tls);
  const dead = new Store(deadClient);
  const leased = new LeasedRecords({ store: dead, ttl: 60 });
  const locks = new LeasedRecords({ store: dead, ttl: 60 });
  const n1 = new LeaderElection({ store: dead, role: "scheduler", value: "n1", ttl: 60 });
  const n2 = new LeaderElection({ store: etcd.store, role: "scheduler", value: "n2", ttl: 60 });
  try {
    await leased.put(families.nodes, ["n1"], { id: "n1" });
    await leased.put(families.replicas, ["n1", "web", "0"], { state: "running" });
    assert.equal(await locks.claim(families.locks, ["db"], { node: "n1" }), true);
    n1.start();
    await waitFor("n1 to lead", () => n1.leading, 10_000);
    n2.start();
    await waitFor("n2 to see n1 lead", () => n2.leader() === "n1", 10_000);
    deadClient.close();

    const t0 = Date.now();
    assert.equal(
      await revokeLiveness(etcd.store, "n1"),
      2,
      "the records' lease and the election's",
    );
    const client = etcd.store.client;
    assert.equal(await client.get(keyOf(families.nodes, "n1")).string(), null);
    assert.equal(await client.get(keyOf(families.replicas, "n1", "web", "0")).string(), null);
    await waitFor("n2 to lead", () => n2.leading, 10_000);
    const tookMs = Date.now() - t0;
    assert.ok(tookMs < 30_000, `${tookMs} ms: not the lease's minute`);
    assert.match(String(await client.get(keyOf(families.locks, "db")).string()), /n1/);

    assert.equal(await revokeLiveness(etcd.store, "n1"), 0, "nothing left to revoke");
    assert.equal(await revokeLiveness(etcd.store, "never-was"), 0);
  } finally {
    await n2.stop();
    await n1.stop().catch(() => {});
    deadClient.close();
  }
});
