/** A throwaway etcd member for tests: its own data dir and free ports, removed on close. */
import { connectEtcd, EtcdSupervisor } from "../../src/etcd/mod.ts";
import { Store } from "../../src/state/mod.ts";
import { freePort } from "./ports.ts";

/** A running etcd with a store on it. */
export interface TestEtcd extends AsyncDisposable {
  supervisor: EtcdSupervisor;
  store: Store;
  url: string;
}

/** Starts etcd; `await using etcd = await startEtcd()` stops and removes it. */
export async function startEtcd(): Promise<TestEtcd> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
  const supervisor = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "test",
    clientPort: freePort(),
    peerPort: freePort(),
  });
  try {
    await supervisor.start();
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  const client = connectEtcd([supervisor.clientUrl]);
  return {
    supervisor,
    store: new Store(client),
    url: supervisor.clientUrl,
    async [Symbol.asyncDispose]() {
      client.close();
      await supervisor.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
