import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { LeaderElection } from "./election.ts";
import { Store } from "./store.ts";
import { connectEtcd, guardHttp2Close } from "../etcd/mod.ts";

const until = (what: string, cond: () => boolean) => waitFor(what, cond, 10_000, 20);

Deno.test("the one campaigning node is elected and resigns on stop", async () => {
  await using etcd = await startEtcd();
  const changes: boolean[] = [];
  const election = new LeaderElection({
    store: etcd.store,
    role: "test",
    value: "n1",
    onChange: (l) => changes.push(l),
  });
  election.start();
  try {
    await until("election", () => election.leading);
    await until("n1 to be seen as leader", () => election.leader() === "n1");
  } finally {
    await election.stop();
  }
  assert.deepEqual(changes, [true, false]);
});

Deno.test("a leader killed without resigning is elected again as soon as it restarts, not when its old key's lease ends", async () => {
  await using etcd = await startEtcd();
  const before = connectEtcd([etcd.url], etcd.tls);
  const old = new LeaderElection({ store: new Store(before), role: "test", value: "n1", ttl: 10 });
  old.start();
  await until("the first incarnation to lead", () => old.leading);
  // A kill -9: the connection goes, nothing is resigned, the key waits for its 10 s lease.
  before.close();
  const started = Date.now();
  const again = new LeaderElection({ store: etcd.store, role: "test", value: "n1", ttl: 10 });
  again.start();
  try {
    await until("the restarted node to lead", () => again.leading);
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 5000, `elected after ${tookMs} ms: the old key was waited out`);
    const keys = await etcd.store.client.getAll().prefix("/fossora/v1/election/test/").strings();
    assert.deepEqual(Object.values(keys), ["n1"], "one key of n1's, the new one");
  } finally {
    await again.stop();
  }
});

Deno.test("another node's key is never taken for this node's old one", async () => {
  await using etcd = await startEtcd();
  const other = new LeaderElection({ store: etcd.store, role: "test", value: "n2" });
  other.start();
  await until("n2 to lead", () => other.leading);
  const self = new LeaderElection({ store: etcd.store, role: "test", value: "n1" });
  self.start();
  try {
    await until("n1 to see n2 lead", () => self.leader() === "n2");
    assert.equal(other.leading, true);
    assert.equal(self.leading, false);
  } finally {
    await self.stop();
    await other.stop();
  }
});

Deno.test("campaigns against an etcd that does not answer do not multiply", async () => {
  guardHttp2Close();
  const client = new Etcd3({ hosts: "http://127.0.0.1:9", dialTimeout: 200 });
  const warnings: string[] = [];
  const log = {
    debug() {},
    info() {},
    error() {},
    warn(msg: string) {
      warnings.push(msg);
    },
    child() {
      return log;
    },
  };
  const election = new LeaderElection({ store: new Store(client), role: "test", value: "n1", log });
  election.start();
  await new Promise((r) => setTimeout(r, 4000));
  await election.stop();
  client.close();
  // With backoff from 1 s: failures at about 0, 1, 3 s: a handful, not a doubling series.
  const failures = warnings.filter((w) => w.startsWith("election campaign failed")).length;
  assert.ok(failures >= 1 && failures <= 4, `${failures} campaign failures in 4 s`);
});
