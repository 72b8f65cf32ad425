/**
 * Who may use this server as a resolver. A forwarder open to the internet answers forged-source
 * queries with larger replies (an amplification weapon), so names outside the zone are only
 * forwarded for clients on the home's own networks; the zone itself stays answered to everyone.
 * @module
 */

/**
 * True for an address on a private or local network: RFC 1918, 100.64.0.0/10 (the Tailscale
 * CGNAT range), loopback, link-local, and IPv6 loopback, link-local (fe80::/10) and ULA (fc00::/7);
 * an IPv4-mapped IPv6 address is judged by its IPv4 part. `ip` holds 4 or 16 bytes.
 */
export function mayRecurse(ip: Uint8Array): boolean {
  if (ip.length === 4) return privateV4(ip[0], ip[1]);
  if (ip.length !== 16) return false;
  let zeros = true;
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) zeros = false;
  if (zeros && ip[10] === 0xff && ip[11] === 0xff) return privateV4(ip[12], ip[13]);
  if (zeros && ip[10] === 0 && ip[11] === 0 && ip[12] === 0 && ip[13] === 0 && ip[14] === 0) {
    return ip[15] === 1; // ::1
  }
  if ((ip[0] & 0xfe) === 0xfc) return true; // fc00::/7
  return ip[0] === 0xfe && (ip[1] & 0xc0) === 0x80; // fe80::/10
}

function privateV4(a: number, b: number): boolean {
  return a === 10 || a === 127 ||
    (a === 172 && (b & 0xf0) === 16) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && (b & 0xc0) === 64);
}
