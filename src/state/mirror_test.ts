import assert from "node:assert/strict";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { families } from "./keys.ts";
import { LeasedRecords } from "./lease.ts";
import { Mirror } from "./mirror.ts";
import type { ServiceSpec } from "./types.ts";

const until = (what: string, cond: () => boolean) => waitFor(what, cond, 5000, 20);

const web: ServiceSpec = {
  name: "web",
  image: "i",
  replicas: 1,
  ports: [],
  env: {},
  volumes: [],
  placement: {},
};

Deno.test("the mirror follows puts and deletes after its first read", async () => {
  await using etcd = await startEtcd();
  await etcd.store.applyServices([web]);
  let changes = 0;
  const mirror = new Mirror({ store: etcd.store, onChange: () => changes++ });
  await mirror.start();
  try {
    assert.equal(mirror.view.service("web")?.generation, 1);
    await etcd.store.putAssignment({ service: "web", replica: 0, node: "n1", generation: 1 });
    await until("the assignment", () => mirror.assignments.has("web/0"));
    await etcd.store.removeService("web");
    await until("the removal", () => mirror.view.service("web") === undefined);
    assert.ok(changes >= 2);
  } finally {
    await mirror.stop();
  }
});

Deno.test("the mirror keeps its last copy when etcd stops answering", async () => {
  await using etcd = await startEtcd();
  await etcd.store.applyServices([web]);
  const mirror = new Mirror({ store: etcd.store });
  await mirror.start();
  try {
    await etcd.supervisor.stop();
    assert.equal(mirror.view.service("web")?.spec.image, "i");
  } finally {
    await mirror.stop();
  }
});

Deno.test("leased records vanish when the lease is revoked", async () => {
  await using etcd = await startEtcd();
  const leased = new LeasedRecords({ store: etcd.store, ttl: 5 });
  await leased.put(families.nodes, ["n1"], { id: "n1" });
  assert.ok(await etcd.store.get(families.nodes, "n1"));
  await leased.close();
  assert.equal(await etcd.store.get(families.nodes, "n1"), undefined);
});

Deno.test("leased records are written again on a new lease when theirs is lost", async () => {
  await using etcd = await startEtcd();
  const leased = new LeasedRecords({ store: etcd.store, ttl: 3 });
  try {
    await leased.put(families.nodes, ["n1"], { id: "n1" });
    const key = "/fossora/v1/nodes/n1";
    const first = (await etcd.store.client.get(key).exec()).kvs[0].lease;
    // Someone (an etcd restore, a long pause) revokes the lease: the record goes with it.
    await etcd.store.client.leaseClient.leaseRevoke({ ID: first });
    assert.equal(await etcd.store.get(families.nodes, "n1"), undefined);
    await waitFor("the record on a new lease", async () => {
      const kv = (await etcd.store.client.get(key).exec()).kvs[0];
      return kv !== undefined && kv.lease !== first;
    }, 15_000);
  } finally {
    await leased.close();
  }
});
