import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import { createLogger } from "../util/log.ts";
import { SplitDnsKeeper, TailscaleApi } from "./split_dns.ts";
import { FakeTailscaleApi } from "./tailscale_api_fake.ts";

const DOMAIN = "fossora.home.arpa";

Deno.test("the Tailscale API client reads and patches split DNS, and says why it is refused", async () => {
  await using fake = new FakeTailscaleApi("tskey-api-good");
  fake.splitDns = { "corp.example": ["10.0.0.53"] };
  const api = new TailscaleApi("tskey-api-good", fake.url);
  assert.deepEqual(await api.getSplitDns(), { "corp.example": ["10.0.0.53"] });
  assert.deepEqual(await api.patchSplitDns(DOMAIN, ["100.64.0.1"]), {
    "corp.example": ["10.0.0.53"],
    [DOMAIN]: ["100.64.0.1"],
  });
  assert.deepEqual(fake.requests.at(-1), {
    method: "PATCH",
    path: "/api/v2/tailnet/-/dns/split-dns",
    body: { [DOMAIN]: ["100.64.0.1"] },
  });
  await assert.rejects(
    new TailscaleApi("tskey-api-wrong", fake.url).getSplitDns(),
    /answered 401 \(API token invalid\): check the API access token in --tailscale-api-key-file/,
  );
  await assert.rejects(
    new TailscaleApi("k", "http://127.0.0.1:1", 500).getSplitDns(),
    /the Tailscale API did not answer/,
  );
});

Deno.test("the elected node keeps the domain pointed at the ready nodes as they come and go", async () => {
  await using fake = new FakeTailscaleApi("key");
  fake.splitDns = { "corp.example": ["10.0.0.53"] };
  let addresses = ["100.64.0.2", "100.64.0.1"];
  let leading = false;
  const keeper = new SplitDnsKeeper({
    api: new TailscaleApi("key", fake.url),
    domain: DOMAIN,
    addresses: () => addresses,
    leading: () => leading,
  });
  try {
    keeper.poke();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.requests.length, 0, "a node that is not elected writes nothing");
    leading = true;
    keeper.poke();
    await waitFor("the first write", () => fake.splitDns[DOMAIN] !== undefined, 5000, 10);
    assert.deepEqual(fake.splitDns[DOMAIN], ["100.64.0.1", "100.64.0.2"]);
    assert.deepEqual(fake.splitDns["corp.example"], ["10.0.0.53"], "other domains are kept");
    const writes = fake.requests.length;
    keeper.poke();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.requests.length, writes, "nothing changed, nothing written");
    addresses = ["100.64.0.1"];
    keeper.poke();
    await waitFor("a node gone", () => fake.splitDns[DOMAIN]?.length === 1, 5000, 10);
    addresses = [];
    keeper.poke();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(fake.splitDns[DOMAIN], ["100.64.0.1"], "no ready node known: kept as it was");
  } finally {
    keeper.stop();
  }
});

Deno.test("an API outage or a wrong key is logged once and retried, never fatal", async () => {
  await using fake = new FakeTailscaleApi("key");
  fake.down = true;
  const lines: string[] = [];
  const keeper = new SplitDnsKeeper({
    api: new TailscaleApi("key", fake.url),
    domain: DOMAIN,
    addresses: () => ["100.64.0.1"],
    leading: () => true,
    log: createLogger("split-dns", { sink: (l) => lines.push(l) }),
    retryMs: 20,
  });
  try {
    keeper.poke();
    await waitFor("a few retries", () => fake.requests.length >= 3, 5000, 10);
    assert.equal(lines.filter((l) => /cannot set tailnet split DNS/.test(l)).length, 1);
    assert.match(lines[0], /503/);
    fake.down = false;
    await waitFor(
      "the write once the API is back",
      () => fake.splitDns[DOMAIN] !== undefined,
      5000,
      10,
    );
    assert.ok(!lines.some((l) => l.includes("tskey") || l.includes("Bearer")), "no secret logged");
  } finally {
    keeper.stop();
  }
});
