import assert from "node:assert/strict";
import { createClusterCA, ensureNodeCerts, issueServerCert } from "../etcd/certs.ts";
import { closeQuietly, writeAll } from "../util/conn.ts";
import {
  dialTunnel,
  parseRequest,
  readLine,
  relayWithRest,
  type TunnelDial,
  TunnelServer,
} from "./tunnel.ts";
import { type NodeIdentity, PROOF_MAX_AGE_MS, TunnelAuth } from "./tunnel_auth.ts";

const ADDRESS = "127.0.0.1";

async function nodeIdentity(dir: string, name: string, caPem: string, caKey: string) {
  const files = await ensureNodeCerts(`${dir}/${name}`, { certPem: caPem, keyPem: caKey }, {
    nodeName: name,
    ips: [ADDRESS],
  });
  return {
    caPem,
    certPem: await Deno.readTextFile(files.certFile),
    keyPem: await Deno.readTextFile(files.keyFile),
  };
}

/** A TCP echo server standing for a container; its port. */
function echoServer(): { port: number; close(): void } {
  const l = Deno.listen({ hostname: ADDRESS, port: 0 });
  (async () => {
    for await (const c of l) {
      (async () => {
        await writeAll(c, new TextEncoder().encode("hello\n"));
        const buf = new Uint8Array(1024);
        for (;;) {
          const n = await c.read(buf).catch(() => null);
          if (n === null) break;
          await writeAll(c, buf.subarray(0, n));
        }
        closeQuietly(c);
      })();
    }
  })().catch(() => {});
  return { port: (l.addr as Deno.NetAddr).port, close: () => closeQuietly(l) };
}

Deno.test("the tunnel relays for a cluster node and refuses anyone without a node certificate", async (t) => {
  const dir = await Deno.makeTempDir();
  const ca = await createClusterCA();
  const server = await nodeIdentity(dir, "n1", ca.certPem, ca.keyPem);
  const client = await nodeIdentity(dir, "n2", ca.certPem, ca.keyPem);
  const echo = echoServer();
  const tunnel = new TunnelServer({
    auth: new TunnelAuth(server),
    self: ADDRESS,
    hostname: ADDRESS,
    port: 0,
    certPem: server.certPem,
    keyPem: server.keyPem,
    refuse: (req) => req.service === "db.s" && req.port === echo.port ? undefined : "no such",
    relay: relayWithRest,
  });
  const port = tunnel.start();
  const dialer = (id: NodeIdentity): TunnelDial => ({ ...id, auth: new TunnelAuth(id) });
  const req = { service: "db.s", container: ADDRESS, port: echo.port };
  try {
    await t.step("a node reaches the container, its first bytes included", async () => {
      const { conn, rest } = await dialTunnel(dialer(client), ADDRESS, port, req, 3000);
      try {
        let got = new TextDecoder().decode(rest);
        const buf = new Uint8Array(100);
        await writeAll(conn, new TextEncoder().encode("ping\n"));
        while (!got.includes("ping")) {
          const n = await conn.read(buf);
          if (n === null) break;
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
        assert.equal(got, "hello\nping\n");
      } finally {
        closeQuietly(conn);
      }
    });

    await t.step("a request the server refuses says why", async () => {
      await assert.rejects(
        dialTunnel(dialer(client), ADDRESS, port, { ...req, port: 1 }, 3000),
        /refused: no such/,
      );
    });

    await t.step("a certificate of another CA, or the proxy's, is refused", async () => {
      const other = await createClusterCA();
      const stranger = await nodeIdentity(dir, "x", other.certPem, other.keyPem);
      // It trusts the right CA (it knows the server) but holds no certificate of it.
      await assert.rejects(
        dialTunnel({ ...dialer(stranger), caPem: ca.certPem }, ADDRESS, port, req, 3000),
        /not signed by the cluster CA/,
      );
      const proxy = await issueServerCert(ca, ["home.arpa"], 1);
      const id = { caPem: ca.certPem, certPem: proxy.certPem, keyPem: proxy.keyPem };
      await assert.rejects(
        dialTunnel(dialer(id), ADDRESS, port, req, 3000),
        /not a node certificate/,
      );
    });

    await t.step("a stale proof, or a bare TLS client, is refused", async () => {
      const old = {
        ...client,
        auth: new TunnelAuth(client, () => Date.now() - PROOF_MAX_AGE_MS * 2),
      };
      await assert.rejects(dialTunnel(old, ADDRESS, port, req, 3000), /stale/);
      const bare = await Deno.connectTls({ hostname: ADDRESS, port, caCerts: [ca.certPem] });
      try {
        await writeAll(bare, new TextEncoder().encode(`GET / HTTP/1.1\r\n\r\n`));
        const { line } = await readLine(bare);
        assert.match(line, /^NO not a mesh tunnel request/);
      } finally {
        closeQuietly(bare);
      }
    });

    await t.step("a plain TCP client gets no TLS session", async () => {
      const plain = await Deno.connect({ hostname: ADDRESS, port });
      try {
        await writeAll(plain, new TextEncoder().encode(`FMESH1 {}\n`));
        const buf = new Uint8Array(100);
        const n = await plain.read(buf).catch(() => null);
        // The TLS server answers garbage with an alert (or closes): never an OK.
        const text = n ? new TextDecoder().decode(buf.subarray(0, n)) : "";
        assert.ok(!text.includes("OK"), text);
      } finally {
        closeQuietly(plain);
      }
    });
  } finally {
    await tunnel.stop();
    echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a tunnel request names TCP (no protocol) or udp, nothing else", () => {
  const proof = { cert: "c", at: 1, to: "10.0.0.2", sig: "s" };
  const req = { service: "db.s", container: "172.18.0.2", port: 53 };
  const read = (v: unknown) => parseRequest(`FMESH1 ${JSON.stringify(v)}`);
  const tcp = read({ ...req, proof });
  assert.ok(typeof tcp !== "string", String(tcp));
  assert.deepEqual(tcp.req, req);
  const udp = read({ ...req, protocol: "udp", proof });
  assert.ok(typeof udp !== "string", String(udp));
  assert.deepEqual(udp.req, { ...req, protocol: "udp" });
  assert.equal(read({ ...req, protocol: "sctp", proof }), "the protocol is not udp");
});
