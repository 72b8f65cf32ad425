/**
 * The DNS server with forwarding on, asked with dig over both UDP implementations and TCP:
 * names outside the zone come from an upstream started by the test, names in it stay local.
 */
import assert from "node:assert/strict";
import { freePort } from "../../test/helpers/ports.ts";
import { createLogger } from "../util/log.ts";
import { FORWARDED_METRIC } from "./forwarder.ts";
import { TestUpstream } from "./test_upstream.ts";
import { dig, DOMAIN, sampleView, status, withServer } from "./test_util.ts";

for (const udp of ["batch", "deno"] as const) {
  Deno.test(`[${udp}] names outside the zone are forwarded and cached; the zone stays local`, async () => {
    await using up = TestUpstream.start();
    up.names.set("www.example.org", { addresses: ["192.0.2.80"], ttl: 300 });
    await withServer(async (t) => {
      for (const transport of ["+notcp", "+tcp", "+notcp"]) {
        const out = await dig(t.server.port, "www.example.org", "A", transport);
        assert.equal(status(out), "NOERROR", out);
        assert.match(out, /www\.example\.org\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/, transport);
        assert.match(out, /flags: qr rd ra;/, "recursion available, not authoritative");
      }
      assert.equal(up.count("www.example.org"), 1, "asked upstream once, then cached");
      const nx = await dig(t.server.port, "nope.example", "A");
      assert.equal(status(nx), "NXDOMAIN", nx);
      const local = await dig(t.server.port, `web.${DOMAIN}`, "A", "+short");
      assert.deepEqual(local.trim().split("\n").sort(), ["10.0.0.1", "10.0.0.2"]);
      assert.equal(up.count(`web.${DOMAIN}`), 0);
      const metric = t.metrics.counter(FORWARDED_METRIC, "");
      assert.equal(metric.get({ answer: "cached" }), 2);
      assert.equal(t.count("forwarded"), 4);
    }, { udp, forward: { upstreams: [up.address] } });
  });
}

Deno.test("an upstream that is this server itself is skipped and logged; outside names REFUSED", async () => {
  const port = freePort();
  const lines: string[] = [];
  await withServer(async (t) => {
    const out = await dig(t.server.port, "www.example.org", "A");
    assert.equal(status(out), "REFUSED", out);
    assert.ok(
      lines.some((l) => /no usable upstream/.test(l) && l.includes(`127.0.0.1:${port}`)),
      lines.join("\n"),
    );
    assert.ok(lines.some((l) => /loop/.test(l)), lines.join("\n"));
  }, {
    port,
    log: createLogger("dns", { level: "info", sink: (l) => lines.push(l) }),
    forward: { upstreams: [`127.0.0.1:${port}`] },
  });
});

Deno.test("an upstream that is another fossora node's DNS server is skipped: they would loop", async () => {
  const lines: string[] = [];
  const view = sampleView();
  await withServer(async (t) => {
    // The server still answers: its own zone, and REFUSED for what it cannot forward.
    assert.equal(status(await dig(t.server.port, "www.example.org", "A")), "REFUSED");
    assert.ok(
      lines.some((l) => /no usable upstream/.test(l) && /fossora node alpha/.test(l)),
      lines.join("\n"),
    );
  }, {
    log: createLogger("dns", { level: "info", sink: (l) => lines.push(l) }),
    forward: { upstreams: ["10.0.0.1:53"] },
  }, view);
});

Deno.test("without forwarding, names outside the zone stay REFUSED", async () => {
  await withServer(async (t) => {
    assert.equal(status(await dig(t.server.port, "www.example.org", "A")), "REFUSED");
  });
});
