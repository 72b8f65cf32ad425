import assert from "node:assert/strict";
import { FakeTailscaled } from "../discovery/tailscale_fake.ts";
import { detectTailscaleAddr } from "./advertise.ts";
import { loadAgentConfig } from "./system.ts";

const LAN = "192.168.1.20";
const DEFAULTS = { hostname: "nas", advertiseAddr: () => LAN };
const noFile = () => undefined;
const TAILNET = {
  users: [{ id: 1, loginName: "alice@example.com" }],
  self: { hostName: "nas", ips: ["100.101.1.1", "fd7a:115c:a1e0::1"], user: 1 },
};

Deno.test("with tailscaled running, the default advertise address is the Tailscale one and mDNS stays on the LAN", async () => {
  await using ts = await FakeTailscaled.start(TAILNET);
  const config = await loadAgentConfig(
    [`--tailscale-socket=${ts.socketPath}`],
    {},
    noFile,
    DEFAULTS,
  );
  assert.equal(config.advertiseAddr, "100.101.1.1");
  assert.equal(config.mdnsAddr, LAN);
});

Deno.test("without tailscaled, the default advertise address is the LAN one", async () => {
  await using ts = await FakeTailscaled.start({ ...TAILNET, backendState: "NeedsLogin" });
  const config = await loadAgentConfig(
    [`--tailscale-socket=${ts.socketPath}`],
    {},
    noFile,
    DEFAULTS,
  );
  assert.equal(config.advertiseAddr, LAN);
  assert.equal(config.mdnsAddr, undefined);
});

Deno.test("a configured advertise address is kept, and tailscaled is not asked", async () => {
  await using ts = await FakeTailscaled.start(TAILNET);
  let lanDetected = false;
  const config = await loadAgentConfig(
    [`--tailscale-socket=${ts.socketPath}`],
    { FOSSORA_ADVERTISE_ADDR: "10.0.0.7" },
    noFile,
    { ...DEFAULTS, advertiseAddr: () => (lanDetected = true, LAN) },
    detectTailscaleAddr,
  );
  assert.equal(config.advertiseAddr, "10.0.0.7");
  assert.equal(config.mdnsAddr, undefined);
  assert.deepEqual(ts.requests, []);
  assert.equal(lanDetected, false);
});
