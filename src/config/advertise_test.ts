import assert from "node:assert/strict";
import {
  defaultRoutes,
  detectAdvertiseAddr,
  detectAdvertiseAddrs6,
  detectTailscaleAddr,
  type InterfaceAddr,
  pickAdvertiseAddr,
  pickAdvertiseAddrs6,
} from "./advertise.ts";
import { FakeTailscaled } from "../discovery/tailscale_fake.ts";
import { isIPv6 } from "../util/ip.ts";
import { isIPv4 } from "./values.ts";

const HEADER =
  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";
// eth0 default via 192.168.1.1 metric 100; wlan0 default via 10.0.0.1 metric 600.
const ROUTES = [
  HEADER,
  "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0",
  "wlan0\t00000000\t0100000A\t0003\t0\t0\t600\t00000000\t0\t0\t0",
  "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0",
].join("\n");

const v4 = (name: string, address: string, netmask = "255.255.255.0"): InterfaceAddr => ({
  name,
  family: "IPv4",
  address,
  netmask,
});

Deno.test("default routes are parsed from /proc/net/route, lowest metric first", () => {
  assert.deepEqual(defaultRoutes(ROUTES), [
    { iface: "eth0", gateway: "192.168.1.1", metric: 100 },
    { iface: "wlan0", gateway: "10.0.0.1", metric: 600 },
  ]);
});

Deno.test("the default route's interface address in the gateway's subnet is chosen", () => {
  const ifaces = [
    v4("lo", "127.0.0.1", "255.0.0.0"),
    v4("docker0", "172.17.0.1", "255.255.0.0"),
    v4("wlan0", "10.0.0.7"),
    v4("eth0", "192.168.50.2"),
    v4("eth0", "192.168.1.20"),
  ];
  assert.equal(pickAdvertiseAddr(ROUTES, ifaces), "192.168.1.20");
});

Deno.test("without a default route the first routable non-loopback IPv4 is chosen", () => {
  const ifaces = [
    v4("lo", "127.0.0.1", "255.0.0.0"),
    { name: "eth0", family: "IPv6", address: "fe80::1", netmask: "ffff:ffff::" } as const,
    v4("eth0", "169.254.3.4", "255.255.0.0"),
    v4("eth1", "192.168.7.7"),
  ];
  assert.equal(pickAdvertiseAddr(HEADER, ifaces), "192.168.7.7");
  assert.equal(pickAdvertiseAddr(undefined, ifaces.slice(0, 3)), "169.254.3.4");
});

Deno.test("with no usable interface the loopback address is chosen", () => {
  assert.equal(pickAdvertiseAddr(undefined, [v4("lo", "127.0.0.1", "255.0.0.0")]), "127.0.0.1");
  assert.equal(pickAdvertiseAddr("garbage", []), "127.0.0.1");
});

Deno.test("detectAdvertiseAddr returns an IPv4 address of this machine", () => {
  const addr = detectAdvertiseAddr();
  assert.ok(isIPv4(addr), addr);
  const own = Deno.networkInterfaces().map((i) => i.address);
  assert.ok(addr === "127.0.0.1" || own.includes(addr), `${addr} not in ${own}`);
});

const v6 = (name: string, address: string): InterfaceAddr => ({
  name,
  family: "IPv6",
  address,
  netmask: "ffff:ffff:ffff:ffff::",
});

Deno.test("the IPv6 addresses advertised are the global and ULA ones beside the IPv4 address", () => {
  const ifaces = [
    v4("lo", "127.0.0.1", "255.0.0.0"),
    v6("lo", "::1"),
    v4("eth0", "192.168.1.20"),
    v6("eth0", "fe80::1"),
    v6("eth0", "fd12:3456::20"),
    v6("eth0", "2001:db8::20"),
    v6("eth0", "2001:db8::20"),
    v6("eth0", "ff02::1"),
    v4("wlan0", "10.0.0.7"),
    v6("wlan0", "fd00::7"),
  ];
  assert.deepEqual(pickAdvertiseAddrs6("192.168.1.20", ifaces), ["fd12:3456::20", "2001:db8::20"]);
  assert.deepEqual(pickAdvertiseAddrs6("10.0.0.7", ifaces), ["fd00::7"]);
  assert.deepEqual(pickAdvertiseAddrs6("127.0.0.1", ifaces), [], "loopback: nothing");
  assert.deepEqual(pickAdvertiseAddrs6("203.0.113.9", ifaces), [], "not ours: nothing");
});

Deno.test("IPv6 detection on this machine gives addresses only", () => {
  for (const a of detectAdvertiseAddrs6(detectAdvertiseAddr())) assert.ok(isIPv6(a), a);
});

const ALICE = { id: 1, loginName: "alice@example.com" };
const SELF = { hostName: "nas", ips: ["fd7a:115c:a1e0::1", "100.101.1.1"], user: ALICE.id };

Deno.test("tailscaled running: its IPv4 for this node is the advertise address", async () => {
  await using ts = await FakeTailscaled.start({ users: [ALICE], self: SELF });
  assert.equal(await detectTailscaleAddr(ts.socketPath), "100.101.1.1");
  // It asks for this node alone, not the whole tailnet.
  assert.deepEqual(ts.requests.map((r) => r.pathAndQuery), ["/localapi/v0/status?peers=false"]);
});

Deno.test("tailscaled logged out or stopped: no Tailscale address", async () => {
  for (const backendState of ["NeedsLogin", "Stopped"]) {
    await using ts = await FakeTailscaled.start({ backendState, users: [ALICE], self: SELF });
    assert.equal(await detectTailscaleAddr(ts.socketPath), undefined, backendState);
  }
});

Deno.test("no tailscaled, or one that does not answer in time: no Tailscale address", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await detectTailscaleAddr(`${dir}/tailscaled.sock`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  await using ts = await FakeTailscaled.start({ users: [ALICE], self: SELF });
  ts.respondWith = () =>
    new Promise((resolve) =>
      ts.closing.addEventListener("abort", () => resolve(new Response("")), { once: true })
    );
  const t0 = Date.now();
  assert.equal(await detectTailscaleAddr(ts.socketPath, 200), undefined);
  assert.ok(Date.now() - t0 < 2000, "it gives up after its timeout");
});
