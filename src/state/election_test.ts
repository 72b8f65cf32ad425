import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { LeaderElection } from "./election.ts";
import { Store } from "./store.ts";
import { guardHttp2Close } from "../etcd/mod.ts";

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
