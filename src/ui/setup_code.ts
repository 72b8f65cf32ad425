/**
 * The first-run code: until the admin password is set, the web UI asks for this code, which
 * only someone who can read the agent's log or run `fossora ui setup-code` on a node knows, so a
 * stranger on the LAN cannot take the cluster first. Every node derives the same code from the
 * cluster's secret.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** No 0/O, 1/I/L or U: the code is read off a screen and typed on a phone. */
const ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789";

/** The code, `XXXX-XXXX-XXXX` (about 59 bits). */
export function setupCode(secret: string): string {
  const digest = createHmac("sha256", secret).update("fossora ui setup code v1").digest();
  let code = "";
  for (let i = 0; i < 12; i++) code += ALPHABET[digest[i] % ALPHABET.length];
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8)}`;
}

/** True when `given` is `code`, whatever its case, spaces and dashes. */
export function isSetupCode(given: string, code: string): boolean {
  const a = Buffer.from(given.toUpperCase().replace(/[\s-]/g, "").slice(0, 64));
  const b = Buffer.from(code.replaceAll("-", ""));
  return a.length === b.length && timingSafeEqual(a, b);
}
