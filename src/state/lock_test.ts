import assert from "node:assert/strict";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { families } from "./keys.ts";
import { LeaseLock } from "./lock.ts";

Deno.test("one holder at a time: the second waits until the first releases, and sees who holds it", async () => {
  await using etcd = await startEtcd();
  const lock = (holder: string) =>
    new LeaseLock({
      store: etcd.store,
      family: families.admission,
      ids: ["tuning", "lock"],
      ttlSeconds: 60,
      holder,
    });
  const a = lock("a");
  const b = lock("b");
  const release = await a.tryAcquire();
  assert.ok(release, "a takes the free lock");
  assert.equal(await b.tryAcquire(), undefined, "b cannot while a holds it");
  assert.equal(await a.tryAcquire(), undefined, "nor can a take it twice");
  assert.equal((await b.holder())?.holder, "a");
  await release();
  assert.equal(await b.holder(), undefined);
  const releaseB = await b.tryAcquire();
  assert.ok(releaseB, "b takes it once released");
  await releaseB();
});

Deno.test("a lock its holder never releases goes when its lease runs out", async () => {
  await using etcd = await startEtcd();
  const lock = (holder: string) =>
    new LeaseLock({
      store: etcd.store,
      family: families.admission,
      ids: ["tuning", "lock"],
      ttlSeconds: 1,
      holder,
    });
  assert.ok(await lock("dead").tryAcquire());
  const started = Date.now();
  const release = await waitFor("the dead holder's lock to expire", () => lock("b").tryAcquire());
  assert.ok(Date.now() - started < 10_000);
  await release();
});

Deno.test("a lock of less than a second is refused with what to give", () => {
  assert.throws(
    () =>
      new LeaseLock({
        store: undefined as never,
        family: families.admission,
        ids: ["tuning", "lock"],
        ttlSeconds: 0,
        holder: "a",
      }),
    /ttlSeconds 0: give at least 1/,
  );
});
