/**
 * Which addresses the DNS server binds a UDP socket to when it listens "everywhere". A socket
 * bound to 0.0.0.0 replies from whatever address the kernel picks for the way back, so a query
 * to a machine's second address gets its answer from the first and the client drops it; one
 * socket per local address answers from the address that was asked.
 * @module
 */
import { ipv6Bytes } from "../util/ip.ts";

/** The parts of `Deno.NetworkInterfaceInfo` the choice reads. */
export interface LocalInterface {
  family: "IPv4" | "IPv6";
  address: string;
  /** The interface index of an IPv6 address, which a link-local one needs to be bound. */
  scopeid?: number | null;
}

/** Reads this machine's addresses; `Deno.networkInterfaces` in production. */
export type InterfaceLister = () => LocalInterface[];

/** True for the bind addresses that mean "every local address". */
export function isWildcard(hostname: string): boolean {
  return hostname === "0.0.0.0" || hostname === "::";
}

/**
 * One bindable hostname per distinct local address, IPv4 and IPv6 alike, in the lister's order.
 * Link-local IPv6 addresses carry their interface (`fe80::1%2`): the same address may sit on
 * several links, and without a scope it cannot be bound at all.
 */
export function listenAddresses(interfaces: readonly LocalInterface[]): string[] {
  const out = new Set<string>();
  for (const i of interfaces) {
    if (i.family === "IPv4") {
      out.add(i.address);
    } else if (i.family === "IPv6") {
      const bytes = ipv6Bytes(i.address);
      if (!bytes) continue;
      const linkLocal = bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80;
      if (!linkLocal) out.add(i.address);
      else if (i.scopeid) out.add(`${i.address}%${i.scopeid}`);
    }
  }
  return [...out];
}
