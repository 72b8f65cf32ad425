/**
 * HTTPS on the proxy: certificates from the cluster CA, checked by a client that trusts only that
 * CA and names the service (SNI), WebSockets over TLS, and a new certificate taking over.
 */
import assert from "node:assert/strict";
import { type ClusterCA, createClusterCA, issueServerCert } from "../etcd/mod.ts";
import { CERT_DAYS, wantedNames } from "./certificate.ts";
import { ServiceProxy } from "./server.ts";
import { replica, service, startBackend, viewWith, websocketEcho } from "./test_util.ts";

const domain = "fossora.home.arpa";
const host = `web.${domain}`;

/** A TLS connection to 127.0.0.1:port that trusts only `ca` and asks for `name` (SNI). */
function connectTls(port: number, ca: ClusterCA, name = host): Promise<Deno.TlsConn> {
  return Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [ca.certPem],
    // Deno's hook to verify against a name other than the address dialled (unstable in 2.9).
    [Symbol.for("unstableServerName")]: name,
  } as Deno.ConnectTlsOptions);
}

/** One GET over TLS; returns the raw response text. */
async function getTls(port: number, ca: ClusterCA, name = host): Promise<string> {
  const conn = await connectTls(port, ca, name);
  try {
    await conn.write(
      new TextEncoder().encode(`GET /x HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`),
    );
    let text = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return text;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("HTTPS serves every service name with a certificate from the cluster CA", async (t) => {
  const ca = await createClusterCA();
  const pair = await issueServerCert(ca, wantedNames(domain), CERT_DAYS);
  const backend = startBackend("a");
  const view = viewWith(service("web"), [replica("web", 0, backend.port)]);
  view.serviceMap.set("other", service("other"));
  const proxy = new ServiceProxy({ view, domain, port: 0, httpsPort: 0, hostname: "127.0.0.1" });
  await proxy.setCertificate(pair);
  await proxy.start();
  try {
    await t.step("a request reaches the service and says it came over https", async () => {
      const text = await getTls(proxy.httpsPort, ca);
      assert.match(text, /^HTTP\/1\.1 200/);
      const seen = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
      assert.equal(seen.xfp, "https");
      assert.equal(seen.host, host);
    });
    await t.step("another service's name is covered too; an unknown one gets the 404", async () => {
      assert.match(await getTls(proxy.httpsPort, ca, `other.${domain}`), /^HTTP\/1\.1 503/);
      assert.match(await getTls(proxy.httpsPort, ca, `nope.${domain}`), /^HTTP\/1\.1 404/);
    });
    await t.step("a client that trusts another CA refuses the connection", async () => {
      const stranger = await createClusterCA();
      await assert.rejects(getTls(proxy.httpsPort, stranger), /certificate|UnknownIssuer/i);
    });
    await t.step("a WebSocket works over TLS", async () => {
      const echoed = await websocketEcho(proxy.httpsPort, host, "hi", (p) => connectTls(p, ca));
      assert.equal(echoed, "a echo: hi");
    });
    await t.step("http:// keeps working beside it", async () => {
      const r = await fetch(`http://127.0.0.1:${proxy.port}/`, {
        headers: { host },
        client: Deno.createHttpClient({ allowHost: true }),
      });
      assert.equal(r.status, 200);
      await r.body?.cancel();
    });
    await t.step("a new certificate takes over on the same port", async () => {
      const port = proxy.httpsPort;
      const ca2 = await createClusterCA();
      await proxy.setCertificate(await issueServerCert(ca2, wantedNames(domain), CERT_DAYS));
      assert.equal(proxy.httpsPort, port);
      assert.match(await getTls(port, ca2), /^HTTP\/1\.1 200/);
      await assert.rejects(getTls(port, ca), /certificate|UnknownIssuer/i);
    });
  } finally {
    await proxy.stop();
    await backend.close();
  }
});

Deno.test("without a certificate the HTTPS port stays closed, and opens when one comes", async () => {
  const ca = await createClusterCA();
  const backend = startBackend("a");
  const view = viewWith(service("web"), [replica("web", 0, backend.port)]);
  const proxy = new ServiceProxy({ view, domain, port: 0, httpsPort: 0, hostname: "127.0.0.1" });
  await proxy.start();
  try {
    assert.equal(proxy.httpsPort, 0);
    await proxy.setCertificate(await issueServerCert(ca, wantedNames(domain), CERT_DAYS));
    assert.ok(proxy.httpsPort > 0);
    assert.match(await getTls(proxy.httpsPort, ca), /^HTTP\/1\.1 200/);
  } finally {
    await proxy.stop();
    await backend.close();
  }
});

Deno.test("a service that asks for it redirects http:// to https://; others keep http://", async () => {
  const ca = await createClusterCA();
  const backend = startBackend("a");
  const secure = service("secure");
  secure.spec.ports[0].httpsRedirect = true;
  const view = viewWith(secure, [replica("secure", 0, backend.port)]);
  view.serviceMap.set("web", service("web"));
  view.putReplica(replica("web", 0, backend.port));
  const proxy = new ServiceProxy({ view, domain, port: 0, httpsPort: 0, hostname: "127.0.0.1" });
  await proxy.start();
  try {
    const client = Deno.createHttpClient({ allowHost: true });
    const get = (name: string) =>
      fetch(`http://127.0.0.1:${proxy.port}/p?q=1`, {
        headers: { host: `${name}.${domain}:${proxy.port}` },
        client,
        redirect: "manual",
      });
    let r = await get("secure");
    assert.equal(r.status, 200, "no HTTPS yet: http:// is served rather than sent nowhere");
    await r.body?.cancel();
    await proxy.setCertificate(await issueServerCert(ca, wantedNames(domain), CERT_DAYS));
    r = await get("secure");
    assert.equal(r.status, 307);
    assert.equal(r.headers.get("location"), `https://secure.${domain}:${proxy.httpsPort}/p?q=1`);
    await r.body?.cancel();
    r = await get("web");
    assert.equal(r.status, 200);
    await r.body?.cancel();
    client.close();
    assert.match(await getTls(proxy.httpsPort, ca, `secure.${domain}`), /^HTTP\/1\.1 200/);
  } finally {
    await proxy.stop();
    await backend.close();
  }
});
