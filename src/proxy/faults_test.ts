/**
 * The proxy under faults and abuse: clients that leave, backends that stall, truncate or switch
 * protocols unasked, spoofed forwarding fields, slow and idle clients, huge heads. The proxy's sockets
 * are counted before and after, and each limit's refusal is counted in its metric.
 */
import assert from "node:assert/strict";
import type { Registry } from "../metrics/mod.ts";
import { closeQuietly } from "../util/conn.ts";
import type { ProxyLimits } from "./limits.ts";
import { rawExchange, type RecordingBackend, startRecordingBackend } from "./raw_test_util.ts";
import { REFUSED_METRIC, ServiceProxy } from "./server.ts";
import {
  type Proxy,
  replica,
  requests,
  service,
  until,
  viewWith,
  withProxyOf,
} from "./test_util.ts";

const domain = "fossora.home.arpa";
const H = `web.${domain}`;
const get = (path: string, ...fields: string[]) =>
  `GET ${path} HTTP/1.1\r\n${[`Host: ${H}`, ...fields].join("\r\n")}\r\n\r\n`;

/**
 * The proxy's open sockets, client and backend, from its own gauge: exact, where the test
 * process's descriptor count also moves with other test files run in parallel (the agent's own
 * descriptors are counted in test/data_plane_test.ts).
 */
function openSockets(metrics: Registry): number {
  return metrics.render().split("\n")
    .filter((l) => l.startsWith("fossora_proxy_connections{"))
    .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
}

function refused(metrics: Registry, reason: string): number {
  return metrics.counter(REFUSED_METRIC, "").get({ reason });
}

/** Runs `fn` with a proxy in front of `backend`, with the given limits. */
function withBackend(
  backend: { port: number },
  limits: Partial<ProxyLimits>,
  fn: (proxy: Proxy, metrics: Registry) => Promise<void>,
  extra: { trustedProxies?: string[]; connect?: () => Promise<Deno.Conn> } = {},
): Promise<void> {
  const view = viewWith(service("web"), [replica("web", 0, backend.port)]);
  return withProxyOf(ServiceProxy, domain, view, fn, { limits, sweepMs: 20, ...extra });
}

/** Opens `n` connections that send `bytes` and then wait. */
async function openMany(port: number, n: number, bytes = ""): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i++) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    if (bytes) await c.write(new TextEncoder().encode(bytes));
    conns.push(c);
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) closeQuietly(c);
}

/** A backend that never answers `/hang` and holds `/sse` open, sending one event. */
function stallingBackend(): RecordingBackend {
  return startRecordingBackend((r) => {
    if (r.target === "/sse") {
      return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked" +
        "\r\n\r\n7\r\ndata: 1\r\n";
    }
    if (r.target === "/hang" || r.headers.upgrade) return new Promise(() => {});
    return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  });
}

Deno.test("clients that leave abort their backend requests: no socket is left", async () => {
  const backend = stallingBackend();
  try {
    await withBackend(backend, {}, async (proxy, metrics) => {
      // Warm up: the first request opens the pool and the sweeper.
      assert.equal((await rawExchange(proxy.port, get("/"))).statuses[0], 200);
      await until("the pool to settle", () => backend.open === 1 && openSockets(metrics) === 1);
      const before = openSockets(metrics);
      const n = 100;
      const conns = [
        ...await openMany(proxy.port, n, get("/hang")),
        ...await openMany(proxy.port, n, get("/sse")),
        ...await openMany(
          proxy.port,
          n,
          get("/ws", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"),
        ),
      ];
      await until("every request at the backend", () => backend.requests.length >= 3 * n + 1);
      assert.ok(openSockets(metrics) >= 3 * n * 2, "each request holds two sockets");
      closeAll(conns);
      await until(
        `sockets back to ${before} (now ${openSockets(metrics)})`,
        () => openSockets(metrics) <= before && backend.open <= 1,
      );
      // And the service still answers.
      assert.equal((await rawExchange(proxy.port, get("/"))).statuses[0], 200);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a backend that does not answer gets 504, also for an upgrade", async () => {
  const backend = stallingBackend();
  try {
    await withBackend(backend, { responseTimeoutMs: 200 }, async (proxy, metrics) => {
      const t0 = Date.now();
      const r = await rawExchange(proxy.port, get("/hang"));
      assert.equal(r.statuses[0], 504);
      assert.ok(Date.now() - t0 < 2000);
      assert.match(r.text, /took too long/);
      assert.doesNotMatch(r.text, /127\.0\.0\.1|:\d{4,5}/, "no address or port on the page");
      const ws = await rawExchange(
        proxy.port,
        get("/ws", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"),
      );
      assert.equal(ws.statuses[0], 504);
      assert.equal(requests(metrics, "web", 504), 2);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a connection to a replica that cannot be opened in time gets 504", async () => {
  const never = () => new Promise<Deno.Conn>(() => {});
  await withBackend({ port: 9 }, { connectTimeoutMs: 100 }, async (proxy) => {
    const r = await rawExchange(proxy.port, get("/"));
    assert.equal(r.statuses[0], 504);
  }, { connect: never });
});

Deno.test("an upload or download is cut only when idle, not for taking long", async () => {
  // Bytes trickle for 4 idle periods, but never stop for one whole period.
  const idle = 300;
  const backend = startRecordingBackend((r) =>
    `HTTP/1.1 200 OK\r\nContent-Length: ${String(r.body.length).length}\r\n\r\n${r.body.length}`
  );
  try {
    await withBackend(backend, { bodyIdleTimeoutMs: idle }, async (proxy, metrics) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      try {
        const enc = new TextEncoder();
        await conn.write(enc.encode(
          `POST /up HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 12\r\n\r\n`,
        ));
        const t0 = Date.now();
        for (let i = 0; i < 12; i++) {
          await conn.write(enc.encode("x"));
          await new Promise((r) => setTimeout(r, idle / 3));
        }
        assert.ok(Date.now() - t0 > idle * 3);
        const buf = new Uint8Array(1024);
        let text = "";
        while (!text.endsWith("12")) {
          const n = await conn.read(buf);
          if (n === null) break;
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        assert.match(text, /^HTTP\/1\.1 200/);
        assert.match(text, /12$/);
        // Now stop sending halfway through a second upload: cut after one idle period.
        await conn.write(
          enc.encode(`POST /up HTTP/1.1\r\nHost: ${H}\r\nContent-Length: 9\r\n\r\nabc`),
        );
        const cut = Date.now();
        assert.equal(await conn.read(buf).catch(() => null), null, "closed");
        assert.ok(Date.now() - cut >= idle - 50 && Date.now() - cut < idle * 5);
        assert.equal(refused(metrics, "bad_request"), 0);
      } finally {
        conn.close();
      }
    });
  } finally {
    await backend.close();
  }
});

Deno.test("uploads past the relay buffer budget arrive whole through small buffers", async () => {
  const backend = startRecordingBackend((r) =>
    `HTTP/1.1 200 OK\r\nContent-Length: ${String(r.body.length).length}\r\n\r\n${r.body.length}`
  );
  const limits = { relayBufferBytes: 64 * 1024, relayBuffersTotalBytes: 128 * 1024 };
  const size = 300_000;
  const lent = (m: Registry) =>
    Number(/^fossora_proxy_relay_buffer_bytes (\d+)$/m.exec(m.render())?.[1] ?? NaN);
  try {
    await withBackend(backend, limits, async (proxy, metrics) => {
      const conns = await openMany(
        proxy.port,
        6,
        `POST /up HTTP/1.1\r\nHost: ${H}\r\nContent-Length: ${size}\r\n\r\n`,
      );
      try {
        const part = new Uint8Array(size / 2).fill(0x61);
        for (const c of conns) await c.write(part);
        await until("relays running", () => backend.requests.length === 0 && lent(metrics) > 0);
        assert.ok(lent(metrics) <= limits.relayBuffersTotalBytes, `${lent(metrics)} lent`);
        for (const c of conns) await c.write(part);
        for (const c of conns) {
          const buf = new Uint8Array(256);
          let text = "";
          while (!text.endsWith(String(size))) {
            const n = await c.read(buf);
            if (n === null) break;
            text += new TextDecoder().decode(buf.subarray(0, n));
          }
          assert.match(text, new RegExp(`^HTTP/1\\.1 200[^]*\\r\\n\\r\\n${size}$`));
        }
        assert.deepEqual(backend.requests.map((r) => r.body.length), Array(6).fill(size));
        await until("every relay buffer given back", () => lent(metrics) === 0);
      } finally {
        closeAll(conns);
      }
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a truncated backend body closes the client connection", async () => {
  // Sends part of the body it announced, then closes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const c of listener) {
      const buf = new Uint8Array(4096);
      await c.read(buf);
      await c.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"));
      c.close();
    }
  })();
  try {
    await withBackend({ port: (listener.addr as Deno.NetAddr).port }, {}, async (proxy) => {
      const r = await rawExchange(proxy.port, get("/"), { quietMs: 2000 });
      assert.equal(r.statuses[0], 200);
      assert.ok(r.closed, "the client sees the connection end, not a hang");
      assert.match(r.text, /part$/);
    });
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("a 101 to a request that did not ask to upgrade is a 502", async () => {
  const backend = startRecordingBackend(() =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
  );
  try {
    await withBackend(backend, {}, async (proxy) => {
      const r = await rawExchange(proxy.port, get("/"));
      assert.equal(r.statuses[0], 502);
      assert.ok(r.closed);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("forwarding fields a client sends are replaced, whatever Connection says", async () => {
  const backend = startRecordingBackend();
  try {
    await withBackend(backend, {}, async (proxy) => {
      await rawExchange(
        proxy.port,
        `GET / HTTP/1.1\r\nHost: ${H}:8080\r\nConnection: x-forwarded-for, x-real-ip\r\n` +
          "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: evil.example\r\n" +
          "X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nX-Real-IP: 10.0.0.1\r\n" +
          "Forwarded: for=10.0.0.1;proto=https\r\nX-Forwarded-Prefix: /admin\r\n\r\n",
      );
      const h = backend.requests[0].headers;
      assert.equal(h["x-forwarded-for"], "127.0.0.1");
      assert.equal(h["x-forwarded-host"], `${H}:8080`);
      assert.equal(h["x-forwarded-proto"], "http");
      assert.equal(h["x-forwarded-port"], "8080", "the port the client asked for");
      assert.equal(h["x-real-ip"], "127.0.0.1");
      assert.equal(h["forwarded"], `for=127.0.0.1;host="${H}:8080";proto=http`);
      assert.equal(h["x-forwarded-prefix"], undefined);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a trusted proxy's forwarding fields are kept and extended", async () => {
  const backend = startRecordingBackend();
  try {
    await withBackend(backend, {}, async (proxy) => {
      await rawExchange(
        proxy.port,
        get(
          "/",
          "X-Forwarded-For: 203.0.113.7",
          "X-Forwarded-Proto: https",
          "X-Real-IP: 203.0.113.7",
        ),
      );
      const h = backend.requests[0].headers;
      assert.equal(h["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
      assert.equal(h["x-forwarded-proto"], "https");
      assert.equal(h["x-real-ip"], "203.0.113.7");
    }, { trustedProxies: ["127.0.0.1"] });
  } finally {
    await backend.close();
  }
});

Deno.test("a client sending its head a byte at a time is cut at the header timeout", async () => {
  const backend = startRecordingBackend();
  try {
    await withBackend(backend, { headerTimeoutMs: 300 }, async (proxy, metrics) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      const t0 = Date.now();
      let cut = false;
      try {
        for (const ch of get("/")) {
          await conn.write(new TextEncoder().encode(ch));
          await new Promise((r) => setTimeout(r, 50));
        }
      } catch {
        cut = true;
      }
      if (!cut) cut = (await conn.read(new Uint8Array(100)).catch(() => null)) === null;
      conn.close();
      assert.ok(cut, "the connection was closed");
      assert.ok(Date.now() - t0 < 2000);
      await until("the refusal counted", () => refused(metrics, "header_timeout") === 1);
      assert.equal(backend.requests.length, 0);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a 1 MB request head gets 431 and is counted", async () => {
  const backend = startRecordingBackend();
  try {
    await withBackend(backend, {}, async (proxy, metrics) => {
      const big = get("/", `X-Big: ${"a".repeat(1024 * 1024)}`);
      const r = await rawExchange(proxy.port, big);
      assert.equal(r.statuses[0], 431);
      assert.equal(refused(metrics, "head_too_large"), 1);
      assert.equal(backend.requests.length, 0);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("idle connections over the limit do not keep a new client out", async () => {
  const backend = startRecordingBackend();
  try {
    await withBackend(backend, { maxConnections: 50 }, async (proxy, metrics) => {
      assert.equal((await rawExchange(proxy.port, get("/"))).statuses[0], 200);
      const before = openSockets(metrics);
      const idle = await openMany(proxy.port, 200);
      const half = await openMany(proxy.port, 50, `GET / HTTP/1.1\r\nHost: ${H}\r\n`);
      try {
        const t0 = Date.now();
        const r = await rawExchange(proxy.port, get("/"));
        assert.equal(r.statuses[0], 200);
        assert.ok(Date.now() - t0 < 1000, `answered in ${Date.now() - t0} ms`);
        assert.ok(refused(metrics, "connection_limit") >= 200);
      } finally {
        closeAll([...idle, ...half]);
      }
      await until("sockets back", () => openSockets(metrics) <= before);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("why a request failed is kept for the API until a request succeeds", async () => {
  let hang = true;
  const backend = startRecordingBackend((r) =>
    hang && r.target === "/"
      ? new Promise(() => {})
      : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
  );
  const view = viewWith(service("web"), [replica("web", 0, backend.port)]);
  const proxy = new ServiceProxy({
    view,
    domain,
    port: 0,
    hostname: "127.0.0.1",
    limits: { responseTimeoutMs: 100 },
    sweepMs: 20,
  });
  await proxy.start();
  try {
    assert.equal(proxy.problem("web"), undefined);
    assert.equal((await rawExchange(proxy.port, get("/"))).statuses[0], 504);
    assert.match(
      proxy.problem("web") ?? "",
      /no response head in time \(replica at 127\.0\.0\.1:\d+\)/,
    );
    hang = false;
    assert.equal((await rawExchange(proxy.port, get("/"))).statuses[0], 200);
    assert.equal(proxy.problem("web"), undefined);
  } finally {
    await proxy.stop();
    await backend.close();
  }
});
