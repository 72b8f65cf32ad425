import assert from "node:assert/strict";
import { createLogger } from "../util/log.ts";
import { LocalApiClient } from "./tailscale.ts";
import { FakeTailscaled } from "./tailscale_fake.ts";
import { keepTailnetCert } from "./tailnet_cert.ts";

const ALICE = { id: 1, loginName: "alice@example.com" };

Deno.test("the tailnet's certificate is taken once HTTPS is on, and said once while it is not", async () => {
  await using fake = await FakeTailscaled.start({
    users: [ALICE],
    self: { hostName: "Pi-1", ips: ["100.101.1.1"], user: ALICE.id },
  });
  using client = new LocalApiClient({ socketPath: fake.socketPath });
  const logged: string[] = [];
  const used: string[] = [];
  const stop = new AbortController();
  const running = keepTailnetCert({
    client,
    use: (name, pair) => (used.push(`${name} ${pair.certPem.slice(0, 27)}`), Promise.resolve()),
    log: createLogger("tailnet-cert", { sink: (l) => logged.push(l) }),
    signal: stop.signal,
    retryMs: 20,
    refreshMs: 20,
  });
  const until = async (what: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!what()) {
      assert.ok(Date.now() < deadline, "timed out");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await until(() => fake.requests.filter((r) => r.pathAndQuery.includes("status")).length >= 3);
  assert.deepEqual(used, []);
  assert.equal(logged.filter((l) => l.includes("cannot give this node a certificate")).length, 1);
  fake.tailnet.https = true;
  await until(() => used.length === 1);
  assert.deepEqual(used, ["pi-1.tail4f2a1c.ts.net -----BEGIN CERTIFICATE-----"]);
  // Asked again, the same certificate is not used twice.
  const asked = fake.requests.length;
  await until(() => fake.requests.length > asked + 4);
  assert.equal(used.length, 1);
  stop.abort();
  await running;
});
