/** A throwaway etcd member for tests: its own data dir and free ports, removed on close. */
import {
  connectEtcd,
  ensureNodeCerts,
  EtcdSupervisor,
  loadOrCreateCA,
  type NodeCerts,
} from "../../src/etcd/mod.ts";
import { Store } from "../../src/state/mod.ts";
import { freePort } from "./ports.ts";

/** A running etcd with a store on it. */
export interface TestEtcd extends AsyncDisposable {
  supervisor: EtcdSupervisor;
  store: Store;
  url: string;
  /** The node's certificates when the member runs with mutual TLS (the default). */
  tls?: NodeCerts;
}

/**
 * Starts etcd as the agent runs it, with mutual TLS from a fresh cluster CA unless `tls: false`;
 * `await using etcd = await startEtcd()` stops and removes it.
 */
export async function startEtcd(o: { tls?: boolean } = {}): Promise<TestEtcd> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
  let supervisor: EtcdSupervisor | undefined;
  try {
    let tls: NodeCerts | undefined;
    if (o.tls ?? true) {
      const ca = await loadOrCreateCA(`${dir}/pki`);
      tls = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "test", ips: [] });
    }
    supervisor = new EtcdSupervisor({
      bin: "etcd",
      dataDir: `${dir}/etcd`,
      name: "test",
      clientPort: freePort(),
      peerPort: freePort(),
      tls,
    });
    await supervisor.start();
    const running = supervisor;
    const client = connectEtcd([running.clientUrl], tls);
    return {
      supervisor: running,
      store: new Store(client),
      url: running.clientUrl,
      tls,
      async [Symbol.asyncDispose]() {
        client.close();
        await running.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (err) {
    await supervisor?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
}
