/**
 * The addresses of the stack mesh: each service of a stack has a virtual address on every node
 * that runs a container of its stack, derived from its name alone, so it is the same on every
 * node and never changes while the service's replicas move; and which stack a connection comes
 * from, by its source address on the stacks' networks.
 * @module
 */

/** The block virtual addresses come from (RFC 2544's benchmarking block, never on a LAN). */
export const VIRTUAL_BLOCK = "198.18.0.0/15";
const BLOCK_BASE = (198 << 24 | 18 << 16) >>> 0;
/** Addresses in the block, less the first and last. */
const BLOCK_SIZE = 1 << 17;

/**
 * The virtual address of service `name` (`SERVICE.STACK`): an FNV-1a hash of the name in
 * 198.18.0.0/15. Two services of one stack that hash alike are told apart by nothing, so
 * {@link addressClashes} finds them; services of different stacks may share an address, as the
 * connection's source tells their stacks apart.
 */
export function virtualAddress(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const index = 1 + (h % (BLOCK_SIZE - 2));
  return intToIpv4((BLOCK_BASE + index) >>> 0);
}

/** True for an address of the block: the mesh's alone, so the DNS server leaves it be. */
export function isVirtualAddress(ip: string): boolean {
  return inSubnet(ip, VIRTUAL_BLOCK);
}

/** Pairs of services (names) of one stack that share a virtual address. */
export function addressClashes(names: string[]): [string, string][] {
  const seen = new Map<string, string>();
  const out: [string, string][] = [];
  for (const n of [...names].sort()) {
    const a = virtualAddress(n);
    const first = seen.get(a);
    if (first) out.push([first, n]);
    else seen.set(a, n);
  }
  return out;
}

/** The 32-bit value of a dotted IPv4 address, or undefined when it is not one. */
export function ipv4ToInt(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return undefined;
    v = v * 256 + b;
  }
  return v;
}

function intToIpv4(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

/** True when `ip` (IPv4, or IPv4-mapped IPv6) lies in `cidr` (`a.b.c.d/n`). */
export function inSubnet(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split("/");
  const bits = Number(bitsText);
  const b = ipv4ToInt(base);
  const a = ipv4ToInt(ip.startsWith("::ffff:") ? ip.slice(7) : ip);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    return false;
  }
  if (bits === 0) return true;
  const mask = (~0 << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/**
 * The stack whose network `source` is on, from the stacks' subnets on this node; undefined for
 * any other source (another machine, the node itself, a container of no stack).
 */
export function stackOfSource(
  source: string,
  subnets: ReadonlyMap<string, string>,
): string | undefined {
  for (const [stack, cidr] of subnets) if (inSubnet(source, cidr)) return stack;
  return undefined;
}
