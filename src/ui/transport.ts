/**
 * Whether a password typed on this page would cross a network in clear: not over HTTPS, not
 * from this machine, and not over the tailnet (WireGuard encrypts that already).
 * @module
 */
import { isIP } from "node:net";

/** True for loopback and Tailscale's addresses (100.64.0.0/10, fd7a:115c:a1e0::/48). */
export function encryptedPath(client: string): boolean {
  const ip = client.startsWith("::ffff:") ? client.slice(7) : client;
  if (isIP(ip) === 4) {
    const [a, b] = ip.split(".").map(Number);
    return a === 127 || (a === 100 && b >= 64 && b < 128);
  }
  if (isIP(ip) === 6) return ip === "::1" || /^fd7a:115c:a1e0:/i.test(ip);
  return false;
}

/**
 * The HTTPS address of the same page when the password would go in clear over the LAN, else
 * undefined.
 */
export function saferUrl(
  url: URL,
  client: string,
  httpsPort: number | undefined,
): string | undefined {
  if (url.protocol === "https:" || encryptedPath(client) || !httpsPort) return undefined;
  // URL keeps an IPv6 host in its brackets.
  return `https://${url.hostname}:${httpsPort}${url.pathname}`;
}
