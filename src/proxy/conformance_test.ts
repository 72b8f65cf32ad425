/**
 * What a reverse proxy must get right beyond routing, run against both implementations: bodies
 * byte for byte (compressed ones too), repeated headers, bodiless responses, redirects left to
 * the client, hop-by-hop headers, streaming both ways, WebSocket details, and a stop that closes
 * everything.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { gzipSync } from "node:zlib";
import {
  IMPLEMENTATIONS,
  replica,
  requestBytes,
  service,
  startRawBackend,
  startServer,
  until,
  viewWith,
  withProxyOf,
} from "./test_util.ts";

const domain = "fossora.home.arpa";
const host = `web.${domain}`;
const MiB = 1024 * 1024;

/** 1 MiB that does not compress to nothing, so a buffering proxy would show. */
function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

/** A WebSocket client through the proxy: Deno's, allowed to set Host. */
async function openThrough(
  port: number,
  protocols: string[],
): Promise<{ ws: WebSocket; client: Deno.HttpClient }> {
  const client = Deno.createHttpClient({ allowHost: true });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { protocols, headers: { host }, client });
  ws.binaryType = "arraybuffer";
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
    });
  } catch (err) {
    client.close();
    throw err;
  }
  return { ws, client };
}

for (const [impl, Impl] of IMPLEMENTATIONS) {
  const test = (name: string, fn: () => Promise<void>) => Deno.test(`${impl}: ${name}`, fn);
  const withProxy = (port: number, fn: (proxyPort: number) => Promise<void>) =>
    withProxyOf(
      Impl,
      domain,
      viewWith(service("web"), [replica("web", 0, port)]),
      (p) => fn(p.port),
    );

  test("a gzip body reaches the client still gzipped, with its Content-Encoding", async () => {
    const plain = new TextEncoder().encode("compress me ".repeat(500));
    const gz = new Uint8Array(gzipSync(plain));
    const seen: (string | null)[] = [];
    const backend = startServer((req) => {
      const ae = req.headers.get("accept-encoding");
      seen.push(ae);
      const always = new URL(req.url).pathname === "/always";
      return always || /gzip/.test(ae ?? "")
        ? new Response(gz, { headers: { "content-encoding": "gzip", vary: "accept-encoding" } })
        : new Response(plain);
    });
    try {
      await withProxy(backend.port, async (port) => {
        const asked = await requestBytes(port, host, { headers: { "accept-encoding": "gzip" } });
        assert.equal(asked.headers["content-encoding"], "gzip");
        assert.deepEqual(asked.body, gz);
        assert.equal(asked.headers["content-length"], String(gz.length));
        assert.match(seen[0] ?? "", /gzip/, "the client's Accept-Encoding reaches the backend");
        const unasked = await requestBytes(port, host, { path: "/always" });
        assert.equal(unasked.headers["content-encoding"], "gzip");
        assert.deepEqual(unasked.body, gz, "a backend that always compresses");
        const plainReply = await requestBytes(port, host);
        assert.deepEqual(plainReply.body, plain);
      });
    } finally {
      await backend.close();
    }
  });

  test("two Set-Cookie headers both reach the client", async () => {
    const backend = startServer(() => {
      const headers = new Headers();
      headers.append("set-cookie", "a=1; Path=/");
      headers.append("set-cookie", "b=2; Path=/; HttpOnly");
      return new Response("ok", { headers });
    });
    try {
      await withProxy(backend.port, async (port) => {
        const r = await requestBytes(port, host);
        assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/; HttpOnly"]);
      });
    } finally {
      await backend.close();
    }
  });

  test("HEAD and 304 answers carry headers and no body", async () => {
    const backend = startServer((req) => {
      if (req.headers.get("if-none-match") === '"v1"') {
        return new Response(null, { status: 304, headers: { etag: '"v1"' } });
      }
      return new Response("twelve bytes", { headers: { etag: '"v1"', "x-kind": req.method } });
    });
    try {
      await withProxy(backend.port, async (port) => {
        const head = await requestBytes(port, host, { method: "HEAD" });
        assert.equal(head.status, 200);
        assert.equal(head.headers["x-kind"], "HEAD");
        assert.equal(head.body.length, 0);
        const notModified = await requestBytes(port, host, {
          headers: { "if-none-match": '"v1"' },
        });
        assert.equal(notModified.status, 304);
        assert.equal(notModified.headers.etag, '"v1"');
        assert.equal(notModified.body.length, 0);
      });
    } finally {
      await backend.close();
    }
  });

  test("a redirect is passed to the client, not followed", async () => {
    let followed = 0;
    const backend = startServer((req) => {
      if (new URL(req.url).pathname === "/elsewhere") followed++;
      return new Response(null, { status: 302, headers: { location: "/elsewhere" } });
    });
    try {
      await withProxy(backend.port, async (port) => {
        const r = await requestBytes(port, host, { path: "/start" });
        assert.equal(r.status, 302);
        assert.equal(r.headers.location, "/elsewhere");
        assert.equal(followed, 0);
      });
    } finally {
      await backend.close();
    }
  });

  test("hop-by-hop headers are dropped both ways", async () => {
    let seen: Headers | undefined;
    const upstream = startServer((req) => {
      seen = req.headers;
      return new Response("ok");
    });
    const raw = startRawBackend(
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-Private\r\n" +
        "X-Private: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n" +
        "X-Public: yes\r\n\r\nok",
    );
    try {
      const leaked = { toBackend: [] as string[], toClient: [] as string[] };
      await withProxy(upstream.port, async (port) => {
        await requestBytes(port, host, {
          headers: {
            connection: "keep-alive, X-Secret",
            "x-secret": "1",
            "keep-alive": "timeout=5",
            "proxy-connection": "keep-alive",
            te: "trailers",
            "x-kept": "yes",
          },
        });
        assert.equal(seen?.get("x-kept"), "yes");
        leaked.toBackend = ["x-secret", "keep-alive", "proxy-connection", "te"]
          .filter((h) => seen!.get(h) !== null);
      });
      await withProxy(raw.port, async (port) => {
        const r = await requestBytes(port, host);
        assert.equal(r.headers["x-public"], "yes");
        leaked.toClient = ["x-private", "keep-alive", "proxy-connection"]
          .filter((h) => r.headers[h] !== undefined);
      });
      assert.deepEqual(leaked, { toBackend: [], toClient: [] });
    } finally {
      await Promise.all([upstream.close(), raw.close()]);
    }
  });

  test("a 1 MiB upload streams to the backend before the client has sent it all", async () => {
    const data = pattern(MiB);
    let received = 0;
    let finished: Uint8Array | undefined;
    const backend = startServer(async (req) => {
      const chunks: Uint8Array[] = [];
      for await (const c of req.body!) {
        chunks.push(c);
        received += c.length;
      }
      finished = new Uint8Array(received);
      let at = 0;
      for (const c of chunks) finished.set(c, (at += c.length) - c.length);
      return new Response(String(received));
    });
    try {
      await withProxy(backend.port, async (port) => {
        const reply = new Promise<string>((resolve, reject) => {
          const req = http.request({
            hostname: "127.0.0.1",
            port,
            method: "POST",
            headers: { host, "transfer-encoding": "chunked" },
            agent: false,
          }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve(body));
          });
          req.on("error", reject);
          req.write(data.subarray(0, 64 * 1024));
          until("the first chunk at the backend", () => received > 0)
            .then(() => req.end(data.subarray(64 * 1024)), (e) => req.destroy(e));
        });
        assert.equal(await reply, String(MiB));
        assert.deepEqual(finished, data);
      });
    } finally {
      await backend.close();
    }
  });

  test("a 1 MiB download streams to the client before the backend has sent it all", async () => {
    const data = pattern(MiB);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const backend = startServer(() =>
      new Response(
        new ReadableStream({
          async start(c) {
            c.enqueue(data.slice(0, 64 * 1024));
            await released;
            c.enqueue(data.slice(64 * 1024));
            c.close();
          },
        }),
      )
    );
    try {
      await withProxy(backend.port, async (port) => {
        let got = 0;
        const chunks: Uint8Array[] = [];
        const done = new Promise<void>((resolve, reject) => {
          http.get({ hostname: "127.0.0.1", port, headers: { host }, agent: false }, (res) => {
            res.on("data", (c: Uint8Array) => {
              chunks.push(c);
              got += c.length;
            });
            res.on("end", resolve);
            res.on("error", reject);
          }).on("error", reject);
        });
        try {
          await until("the first chunk at the client", () => got > 0);
        } finally {
          release();
        }
        await done;
        const body = new Uint8Array(got);
        let at = 0;
        for (const c of chunks) body.set(c, (at += c.length) - c.length);
        assert.deepEqual(body, data);
      });
    } finally {
      release();
      await backend.close();
    }
  });

  test("a WebSocket keeps its subprotocol, binary messages and close codes", async () => {
    let backendClose: { code: number; reason: string } | undefined;
    const backend = startServer((req) => {
      const offered = req.headers.get("sec-websocket-protocol") ?? "";
      const { socket, response } = Deno.upgradeWebSocket(req, {
        protocol: offered.includes("chat.v2") ? "chat.v2" : undefined,
      });
      socket.binaryType = "arraybuffer";
      socket.onmessage = (e) => {
        if (e.data === "close please") socket.close(4001, "as asked");
        else socket.send(e.data);
      };
      socket.onclose = (e) => (backendClose = { code: e.code, reason: e.reason });
      return response;
    });
    try {
      await withProxy(backend.port, async (port) => {
        const { ws, client } = await openThrough(port, ["chat.v1", "chat.v2"]);
        try {
          assert.equal(ws.protocol, "chat.v2");
          const echoed = new Promise<MessageEvent>((r) => (ws.onmessage = r));
          ws.send(new Uint8Array([0, 1, 2, 255]));
          const m = await echoed;
          assert.ok(m.data instanceof ArrayBuffer, "binary stays binary");
          assert.deepEqual(new Uint8Array(m.data), new Uint8Array([0, 1, 2, 255]));
          const text = new Promise<MessageEvent>((r) => (ws.onmessage = r));
          ws.send("plain text");
          assert.equal((await text).data, "plain text", "text stays text");
          const closed = new Promise<CloseEvent>((r) => (ws.onclose = r));
          ws.send("close please");
          const c = await closed;
          assert.equal(c.code, 4001);
          assert.equal(c.reason, "as asked");
        } finally {
          client.close();
        }
        const second = await openThrough(port, []);
        try {
          const closed = new Promise<CloseEvent>((r) => (second.ws.onclose = r));
          second.ws.close(4002, "client leaves");
          await closed;
          await until("the backend to see the close", () => backendClose?.code === 4002);
          assert.equal(backendClose?.reason, "client leaves");
        } finally {
          second.client.close();
        }
      });
    } finally {
      await backend.close();
    }
  });

  test("stop closes an open WebSocket and a request in flight", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived = 0;
    const backend = startServer(async (req) => {
      if (req.headers.get("upgrade") === "websocket") {
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.onmessage = (e) => socket.send(e.data);
        return response;
      }
      arrived++;
      await released;
      return new Response("late");
    });
    const proxy = new Impl({
      view: viewWith(service("web"), [replica("web", 0, backend.port)]),
      domain,
      port: 0,
      hostname: "127.0.0.1",
    });
    await proxy.start();
    let stopped = false;
    try {
      const { ws, client } = await openThrough(proxy.port, []);
      const wsClosed = new Promise<CloseEvent>((r) => (ws.onclose = r));
      const inFlight = requestBytes(proxy.port, host).then(
        (r) => `answered ${r.status} ${new TextDecoder().decode(r.body)}`,
        (e) => `failed: ${e.message}`,
      );
      try {
        await until("the request to reach the backend", () => arrived === 1);
        const t0 = Date.now();
        await proxy.stop();
        stopped = true;
        await wsClosed;
        const outcome = await inFlight;
        assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms`);
        assert.doesNotMatch(outcome, /late/);
      } finally {
        client.close();
      }
    } finally {
      release();
      if (!stopped) await proxy.stop();
      await backend.close();
    }
  });
}
