/**
 * The default advertise address: the IPv4 source address of the default route, which is what
 * other machines on the LAN see this node as.
 * @module
 */

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
