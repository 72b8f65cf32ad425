import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Etcd3 } from "etcd3";
import { startEtcd } from "../../test/helpers/etcd.ts";
import { createClusterCA, ensureNodeCerts, ETCD_SERVER_NAME, type NodeCerts } from "./certs.ts";
import { connectEtcd } from "./client.ts";
import { guardHttp2Close } from "./http2_guard.ts";

/** A client that fails fast: no retries, so a refused handshake shows up as one rejection. */
function rawClient(url: string, files: Partial<NodeCerts>): Etcd3 {
  const read = (path?: string) => path ? Buffer.from(Deno.readFileSync(path)) : undefined;
  guardHttp2Close();
  return new Etcd3({
    hosts: [url],
    dialTimeout: 2000,
    credentials: {
      rootCertificate: read(files.caFile)!,
      certChain: read(files.certFile),
      privateKey: read(files.keyFile),
    },
    grpcOptions: {
      "grpc.ssl_target_name_override": ETCD_SERVER_NAME,
      "grpc.default_authority": ETCD_SERVER_NAME,
    },
  });
}

/** Certificates for a node of some other cluster: a different CA. */
async function foreignCerts(dir: string): Promise<NodeCerts> {
  return await ensureNodeCerts(dir, await createClusterCA(), { nodeName: "intruder", ips: [] });
}

Deno.test("a client with the node certificate reads and writes over mutual TLS", async () => {
  await using etcd = await startEtcd();
  assert.match(etcd.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(etcd.supervisor.healthy, true, "the TLS health check passed");
  const client = connectEtcd([etcd.url], etcd.tls);
  try {
    await client.put("tls-test").value("hello");
    assert.equal(await client.get("tls-test").string(), "hello");
  } finally {
    client.close();
  }
});

Deno.test("a client that trusts the CA but shows no certificate is refused", async () => {
  await using etcd = await startEtcd();
  const control = rawClient(etcd.url, etcd.tls!);
  try {
    // The same client options with the node's certificate work, so only the certificate differs.
    await control.put("x").value("1");
  } finally {
    control.close();
  }
  const client = rawClient(etcd.url, { caFile: etcd.tls!.caFile });
  try {
    await assert.rejects(client.get("x").string());
  } finally {
    client.close();
  }
});

Deno.test("a client with a certificate from another CA is refused", async () => {
  await using etcd = await startEtcd();
  const dir = await Deno.makeTempDir({ prefix: "fossora-foreign-" });
  const client = rawClient(etcd.url, { ...await foreignCerts(dir), caFile: etcd.tls!.caFile });
  try {
    await assert.rejects(client.get("x").string());
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("etcd's health endpoint answers neither plain HTTP nor a foreign certificate", async () => {
  await using etcd = await startEtcd();
  const port = new URL(etcd.url).port;
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text()));

  const ca = await Deno.readTextFile(etcd.tls!.caFile);
  const dir = await Deno.makeTempDir({ prefix: "fossora-foreign-" });
  const foreign = await foreignCerts(dir);
  const clients = [
    Deno.createHttpClient({ caCerts: [ca] }),
    Deno.createHttpClient({
      caCerts: [ca],
      cert: await Deno.readTextFile(foreign.certFile),
      key: await Deno.readTextFile(foreign.keyFile),
    }),
  ];
  try {
    for (const client of clients) {
      await assert.rejects(fetch(`${etcd.url}/health`, { client }).then((r) => r.text()));
    }
    assert.equal(await etcd.supervisor.checkHealth(), true, "the node's own certificate works");
  } finally {
    for (const client of clients) client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without TLS the member still runs on plain HTTP", async () => {
  await using etcd = await startEtcd({ tls: false });
  assert.match(etcd.url, /^http:\/\//);
  const res = await fetch(`${etcd.url}/health`);
  assert.deepEqual(await res.json(), { health: "true" });
});
