import assert from "node:assert/strict";
import type { Registry } from "../metrics/mod.ts";
import type { MemoryView } from "../state/view.ts";
import {
  closedPort,
  IMPLEMENTATIONS,
  type Proxy,
  replica,
  request,
  requests,
  service,
  startBackend,
  startResetter,
  viewWith,
  websocketEcho,
  withProxyOf,
} from "./test_util.ts";

const domain = "fossora.home.arpa";
const host = `web.${domain}`;

for (const [impl, Impl] of IMPLEMENTATIONS) {
  const test = (name: string, fn: () => Promise<void>) => Deno.test(`${impl}: ${name}`, fn);
  const withProxy = (view: MemoryView, fn: (proxy: Proxy, metrics: Registry) => Promise<void>) =>
    withProxyOf(Impl, domain, view, fn);

  test("requests reach the named service, round-robin over its ready replicas", async () => {
    const a = startBackend("a");
    const b = startBackend("b");
    const other = startBackend("other");
    const view = viewWith(service("web"), [replica("web", 0, a.port), replica("web", 1, b.port)]);
    view.serviceMap.set("api", service("api"));
    view.putReplica(replica("api", 0, other.port));
    try {
      await withProxy(view, async (proxy, metrics) => {
        const seen = [];
        for (let i = 0; i < 4; i++) {
          const r = await request(proxy.port, `WEB.${domain.toUpperCase()}:80`);
          assert.equal(r.status, 200);
          seen.push(JSON.parse(r.body).backend);
        }
        assert.deepEqual(seen.sort(), ["a", "a", "b", "b"]);
        const api = JSON.parse((await request(proxy.port, `api.${domain}`)).body);
        assert.equal(api.backend, "other");
        assert.equal(api.host, `api.${domain}`, "the backend sees the original Host");
        assert.equal(requests(metrics, "web", 200), 4);
      });
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });

  test("X-Forwarded-* from an untrusted client are replaced with what the proxy saw", async () => {
    const a = startBackend("a");
    try {
      await withProxy(viewWith(service("web"), [replica("web", 0, a.port)]), async (proxy) => {
        const fresh = JSON.parse((await request(proxy.port, host)).body);
        assert.equal(fresh.xff, "127.0.0.1");
        assert.equal(fresh.xfh, host);
        assert.equal(fresh.xfp, "http");
        const spoofed = JSON.parse(
          (await request(proxy.port, host, {
            headers: { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" },
          })).body,
        );
        assert.equal(spoofed.xff, "127.0.0.1");
        assert.equal(spoofed.xfp, "http");
      });
    } finally {
      await a.close();
    }
  });

  test("a trusted proxy's X-Forwarded-For is extended and its -Proto kept", async () => {
    const a = startBackend("a");
    const view = viewWith(service("web"), [replica("web", 0, a.port)]);
    try {
      await withProxyOf(Impl, domain, view, async (proxy) => {
        const chained = JSON.parse(
          (await request(proxy.port, host, {
            headers: { "x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https" },
          })).body,
        );
        assert.equal(chained.xff, "203.0.113.9, 127.0.0.1");
        assert.equal(chained.xfp, "https");
      }, { trustedProxies: ["127.0.0.0/8"] });
    } finally {
      await a.close();
    }
  });

  test("a WebSocket echoes through the proxy, and gets 404/502 when it cannot", async () => {
    const a = startBackend("a");
    const view = viewWith(service("web"), [replica("web", 0, a.port)]);
    view.serviceMap.set("dead", service("dead"));
    view.putReplica(replica("dead", 0, closedPort()));
    try {
      await withProxy(view, async (proxy, metrics) => {
        assert.equal(await websocketEcho(proxy.port, host, "hello"), "a echo: hello");
        await assert.rejects(websocketEcho(proxy.port, `nope.${domain}`, "x"), /404/);
        await assert.rejects(websocketEcho(proxy.port, `dead.${domain}`, "x"), /502/);
        const deadline = Date.now() + 2000;
        while (requests(metrics, "web", 101) < 1 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(requests(metrics, "web", 101), 1);
      });
    } finally {
      await a.close();
    }
  });

  test("unknown hosts get a 404 page that names the host and escapes it", async () => {
    await withProxy(viewWith(service("web"), []), async (proxy, metrics) => {
      const r = await request(proxy.port, `x&y'z.${domain}`);
      assert.equal(r.status, 404);
      assert.match(r.headers["content-type"] ?? "", /text\/html/);
      assert.ok(r.body.includes(`x&amp;y&#39;z.${domain}`), r.body);
      assert.match(r.body, /fossora services/);
      const script = await request(proxy.port, `<script>alert(1)</script>.${domain}`);
      assert.equal(script.status, 400, "a Host that is not a host name is refused");
      assert.ok(!script.body.includes("<script>"));
      const bare = await request(proxy.port, "web");
      assert.equal(bare.status, 404, "a bare NAME is not accepted");
      assert.equal(requests(metrics, "", 404), 2);
    });
  });

  test("a service without HTTP port gets a 404 page saying so", async () => {
    await withProxy(viewWith(service("web", 1, false), []), async (proxy) => {
      const r = await request(proxy.port, host);
      assert.equal(r.status, 404);
      assert.match(r.body, /no HTTP port/);
    });
  });

  test("no ready replica gives 503 saying why in general words, and Retry-After", async () => {
    const failed = replica("web", 0, 1, {
      state: "error",
      ready: false,
      message: "image pull failed: <evil> & co",
    });
    await withProxy(viewWith(service("web"), [failed]), async (proxy, metrics) => {
      const r = await request(proxy.port, host);
      assert.equal(r.status, 503);
      assert.equal(r.headers["retry-after"], "5");
      assert.match(r.body, /failed to start/);
      assert.doesNotMatch(r.body, /image pull|evil|node-0|127\.0\.0\.1/, "no internals");
      assert.equal(requests(metrics, "web", 503), 1);
    });
    await withProxy(viewWith(service("web", 0), []), async (proxy) => {
      assert.match((await request(proxy.port, host)).body, /scaled to 0 replicas/);
    });
  });

  test("a GET skips a replica whose port is closed and succeeds on the live one", async () => {
    const live = startBackend("live");
    const view = viewWith(service("web"), [
      replica("web", 0, closedPort()),
      replica("web", 1, live.port),
    ]);
    try {
      await withProxy(view, async (proxy) => {
        for (let i = 0; i < 4; i++) {
          const r = await request(proxy.port, host);
          assert.equal(r.status, 200, r.body);
          assert.equal(JSON.parse(r.body).backend, "live");
        }
        const del = await request(proxy.port, host, { method: "DELETE" });
        assert.equal(del.status, 200);
      });
    } finally {
      await live.close();
    }
  });

  test("a replica that resets is tried once, then left out while marked", async () => {
    const live = startBackend("live");
    const resetter = startResetter();
    const view = viewWith(service("web"), [
      replica("web", 0, resetter.port),
      replica("web", 1, live.port),
    ]);
    try {
      await withProxy(view, async (proxy) => {
        for (let i = 0; i < 6; i++) assert.equal((await request(proxy.port, host)).status, 200);
        assert.equal(resetter.accepted, 1);
        assert.equal(live.hits, 6);
      });
    } finally {
      await Promise.all([live.close(), resetter.close()]);
    }
  });

  test("a POST to a failing replica is answered 502 and not retried", async () => {
    const live = startBackend("live");
    const resetter = startResetter();
    const view = viewWith(service("web"), [
      replica("web", 0, resetter.port),
      replica("web", 1, live.port),
    ]);
    try {
      await withProxy(view, async (proxy, metrics) => {
        const r = await request(proxy.port, host, { method: "POST", body: "order=1" });
        assert.equal(r.status, 502);
        assert.match(r.body, /Bad gateway/);
        assert.equal(resetter.accepted, 1);
        assert.equal(live.hits, 0);
        assert.equal(requests(metrics, "web", 502), 1);
        const next = await request(proxy.port, host, { method: "POST", body: "order=2" });
        assert.equal(JSON.parse(next.body).body, "order=2", "the next POST goes to the live one");
      });
    } finally {
      await Promise.all([live.close(), resetter.close()]);
    }
  });

  test("a port already in use makes start reject", async () => {
    await withProxy(viewWith(service("web"), []), async (proxy) => {
      const second = new Impl({
        view: viewWith(service("web"), []),
        domain,
        port: proxy.port,
        hostname: "127.0.0.1",
      });
      await assert.rejects(second.start(), /EADDRINUSE|in use/i);
    });
  });
}
