import assert from "node:assert/strict";
import { Hono } from "hono";
import { createClusterCA, issueServerCert } from "../etcd/certs.ts";
import { TlsFront } from "./tls_front.ts";

/** An app that says which client it saw. */
function echoApp(): Hono {
  const app = new Hono();
  app.get("/who", (c) => {
    const addr = (c.env as { remoteAddr: Deno.NetAddr }).remoteAddr;
    return c.text(`${addr.hostname}:${addr.port}`);
  });
  return app;
}

/** One HTTP/1.1 GET over a TLS connection to `localhost`, and the connection's own port. */
async function get(port: number, ca: string, path: string) {
  const conn = await Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      ),
    );
    const text = await new Response(conn.readable).text();
    return { body: text.split("\r\n\r\n")[1], localPort: (conn.localAddr as Deno.NetAddr).port };
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** The subject of the certificate served to `name` (none: no SNI). */
async function subjectFor(port: number, name?: string): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      ...(name ? ["-servername", name] : ["-noservername"]),
    ],
    stdin: "null",
    stderr: "null",
  }).output();
  return /subject=(.*)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? "";
}

Deno.test("one port serves each name its own certificate, and the app sees the real client", async () => {
  const [cluster, tailnet] = await Promise.all([createClusterCA(), createClusterCA()]);
  const fallback = await issueServerCert(cluster, ["node1.fossora.internal"], 2);
  const named = await issueServerCert(tailnet, ["localhost"], 2);
  const stop = new AbortController();
  const front = new TlsFront({
    app: echoApp(),
    hostname: "127.0.0.1",
    port: 0,
    fallback: { cert: fallback.certPem, key: fallback.keyPem },
    signal: stop.signal,
  });
  const port = await front.start();
  try {
    assert.match(await subjectFor(port), /node1\.fossora\.internal/);
    assert.match(await subjectFor(port, "anything.example"), /node1\.fossora\.internal/);
    await front.setNamed("localhost", { cert: named.certPem, key: named.keyPem });
    assert.match(await subjectFor(port, "localhost"), /CN ?= ?localhost/);
    // Trusting only the tailnet's authority, over the front, the app sees this very client.
    const { body, localPort } = await get(port, tailnet.certPem, "/who");
    assert.equal(body, `127.0.0.1:${localPort}`);
    // A renewal is served from then on.
    const renewed = await issueServerCert(tailnet, ["localhost"], 3);
    await front.setNamed("localhost", { cert: renewed.certPem, key: renewed.keyPem });
    assert.equal((await get(port, tailnet.certPem, "/who")).body.startsWith("127.0.0.1:"), true);
    assert.deepEqual(front.names(), ["localhost"]);
  } finally {
    stop.abort();
    await front.finished;
  }
});

Deno.test("a client that sends nothing, or not TLS, is let go and the port keeps serving", async () => {
  const ca = await createClusterCA();
  const pair = await issueServerCert(ca, ["localhost"], 2);
  const stop = new AbortController();
  const front = new TlsFront({
    app: echoApp(),
    hostname: "127.0.0.1",
    port: 0,
    fallback: { cert: pair.certPem, key: pair.keyPem },
    signal: stop.signal,
  });
  const port = await front.start();
  try {
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    // The TLS server behind answers garbage with an alert or a close; nothing hangs.
    await new Response(plain.readable).arrayBuffer().catch(() => {});
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    assert.equal((await get(port, ca.certPem, "/who")).body.startsWith("127.0.0.1:"), true);
    silent.close();
  } finally {
    stop.abort();
    await front.finished;
  }
});

Deno.test("one address gets at most 64 connections at once; a closed one frees its place", async () => {
  const ca = await createClusterCA();
  const pair = await issueServerCert(ca, ["localhost"], 2);
  const stop = new AbortController();
  const front = new TlsFront({
    app: echoApp(),
    hostname: "0.0.0.0",
    port: 0,
    fallback: { cert: pair.certPem, key: pair.keyPem },
    signal: stop.signal,
  });
  const port = await front.start();
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 64; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    // Closed at once: the read ends without a byte.
    assert.equal(await extra.read(new Uint8Array(1)), null);
    extra.close();
    held.pop()!.close();
    // The closed one frees its place as soon as the front sees it go.
    const deadline = Date.now() + 5000;
    for (;;) {
      const answer = await get(port, ca.certPem, "/who").catch(() => undefined);
      if (answer?.body?.startsWith("127.0.0.1:")) break;
      assert.ok(Date.now() < deadline, "a place came free");
    }
  } finally {
    for (const c of held) c.close();
    stop.abort();
    await front.finished;
  }
});
