/**
 * The default advertise address: this node's Tailscale IPv4 when tailscaled runs (every machine
 * of the tailnet reaches it there, wherever it is), else the IPv4 source address of the default
 * route, which is what other machines on the LAN see this node as; and the IPv6 addresses DNS
 * gives for the node.
 * @module
 */
import { LocalApiClient } from "../discovery/tailscale.ts";
import { tailscaleAdvertiseAddr } from "../discovery/tailnet.ts";
import { ipv6Bytes } from "../util/ip.ts";

/** The parts of `Deno.NetworkInterfaceInfo` the choice needs. */
export interface InterfaceAddr {
  name: string;
  family: "IPv4" | "IPv6";
  address: string;
  netmask: string;
}

interface DefaultRoute {
  iface: string;
  gateway: string;
  metric: number;
}

/** `/proc/net/route` stores addresses as little-endian hex: `0101A8C0` is 192.168.1.1. */
function hexToIPv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join(".");
}

/** The default routes in `/proc/net/route` text, lowest metric first. */
export function defaultRoutes(routeTable: string): DefaultRoute[] {
  const routes: DefaultRoute[] = [];
  for (const line of routeTable.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // Columns: Iface Destination Gateway Flags RefCnt Use Metric Mask ...; flag 1 is RTF_UP.
    if (f.length < 8 || f[1] !== "00000000" || f[7] !== "00000000") continue;
    if ((parseInt(f[3], 16) & 1) === 0) continue;
    routes.push({ iface: f[0], gateway: hexToIPv4(f[2]), metric: Number(f[6]) || 0 });
  }
  return routes.sort((a, b) => a.metric - b.metric);
}

function toInt(ip: string): number {
  return ip.split(".").reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
}

function sameSubnet(a: string, b: string, mask: string): boolean {
  const m = toInt(mask);
  return ((toInt(a) & m) >>> 0) === ((toInt(b) & m) >>> 0);
}

const isLoopback = (ip: string) => ip.startsWith("127.");
const isLinkLocal = (ip: string) => ip.startsWith("169.254.");

/**
 * Picks the advertise address: on the default route's interface, the address in the gateway's
 * subnet (else its first IPv4); failing that the first non-loopback IPv4 (link-local last);
 * failing that 127.0.0.1, so a lone machine still works.
 */
export function pickAdvertiseAddr(
  routeTable: string | undefined,
  interfaces: readonly InterfaceAddr[],
): string {
  const v4 = interfaces.filter((i) => i.family === "IPv4" && !isLoopback(i.address));
  for (const route of defaultRoutes(routeTable ?? "")) {
    const onIface = v4.filter((i) => i.name === route.iface);
    const inSubnet = onIface.find((i) => sameSubnet(i.address, route.gateway, i.netmask));
    const chosen = inSubnet ?? onIface[0];
    if (chosen) return chosen.address;
  }
  const routable = v4.find((i) => !isLinkLocal(i.address));
  return (routable ?? v4[0])?.address ?? "127.0.0.1";
}

/** The primary LAN IPv4 of this machine (see pickAdvertiseAddr); never throws. */
export function detectAdvertiseAddr(): string {
  let routeTable: string | undefined;
  let interfaces: InterfaceAddr[] = [];
  try {
    routeTable = Deno.readTextFileSync("/proc/net/route");
  } catch {
    routeTable = undefined; // not Linux, or no permission: fall back to interfaces alone
  }
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    interfaces = [];
  }
  return pickAdvertiseAddr(routeTable, interfaces);
}

/**
 * The IPv6 addresses to advertise beside `advertiseAddr`: those of the interface that holds it,
 * global or unique-local only. Loopback and link-local ones are left out (a client elsewhere
 * cannot reach `::1`, and `fe80::` needs a zone no DNS answer can carry). None when the IPv4
 * address is on no interface (a loopback or a NAT address given by hand).
 */
export function pickAdvertiseAddrs6(
  advertiseAddr: string,
  interfaces: readonly InterfaceAddr[],
): string[] {
  const iface = interfaces.find((i) => i.family === "IPv4" && i.address === advertiseAddr)?.name;
  if (!iface || isLoopback(advertiseAddr)) return [];
  const out: string[] = [];
  for (const i of interfaces) {
    if (i.name !== iface || i.family !== "IPv6") continue;
    const b = ipv6Bytes(i.address);
    // 2000::/3 is global unicast, fc00::/7 unique-local; the rest is not for other machines.
    if (!b || !((b[0] & 0xe0) === 0x20 || (b[0] & 0xfe) === 0xfc)) continue;
    if (!out.includes(i.address)) out.push(i.address);
  }
  return out;
}

/** This node's IPv6 addresses to advertise (see pickAdvertiseAddrs6); never throws. */
export function detectAdvertiseAddrs6(advertiseAddr: string): string[] {
  try {
    return pickAdvertiseAddrs6(advertiseAddr, Deno.networkInterfaces());
  } catch {
    return []; // no permission to list interfaces: IPv4 alone still works
  }
}

/**
 * This node's Tailscale IPv4 when tailscaled answers on `socket` within `timeoutMs` and is
 * `Running`; undefined otherwise (no tailscaled, logged out, stopped, slow): never throws.
 * @example
 * ```ts
 * const addr = await detectTailscaleAddr("/var/run/tailscale/tailscaled.sock") ?? detectAdvertiseAddr();
 * ```
 */
export async function detectTailscaleAddr(
  socket: string,
  timeoutMs = 1500,
): Promise<string | undefined> {
  try {
    using client = new LocalApiClient({ socketPath: socket, timeoutMs });
    return tailscaleAdvertiseAddr(await client.status({ peers: false }));
  } catch {
    return undefined; // no tailscaled here: the LAN address it is
  }
}
