/**
 * Where containers' ports are published and probed. They are published on the node's address
 * (the one other nodes' proxies dial), not on every interface, so a replica is not reachable
 * around the proxy from networks the node merely touches.
 * @module
 */
import { isIP } from "node:net";

const ANY = new Set(["0.0.0.0", "::"]);

/** Why `address` cannot be used to publish ports, or undefined when it can (an IP literal). */
export function addressProblem(address: unknown): string | undefined {
  if (typeof address !== "string" || isIP(address) === 0) {
    return `Runtime needs the node's address as an IP literal (e.g. 192.168.1.20), got ${
      JSON.stringify(address)
    }: pass the advertise address`;
  }
  return undefined;
}

/** The address a published port answers on from this host: the node's, or loopback for "any". */
export function probeHost(address: string): string {
  if (!ANY.has(address)) return address;
  return address === "::" ? "::1" : "127.0.0.1";
}
