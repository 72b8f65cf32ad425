/**
 * The cluster join token, `FOSSORA-1-<sha256 of the CA certificate, hex>-<secret>`, in the shape
 * of Swarm's `SWMTKN-1-…`: the first half lets a joiner check that the cluster it reached holds
 * the CA the token names before it sends anything secret (a stranger on the LAN answering the
 * discovery port cannot take the secret), the second half is the secret itself.
 * @module
 */
import { X509Certificate } from "node:crypto";

/** A parsed join token. */
export interface JoinToken {
  /** sha256 of the CA certificate's DER, lowercase hex. */
  caHash: string;
  secret: string;
}

const PREFIX = "FOSSORA-1-";
const SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** A new secret: 26 characters of base32, 130 random bits. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(26));
  return Array.from(bytes, (b) => SECRET_ALPHABET[b & 31]).join("");
}

/** The fingerprint a token carries: sha256 of the certificate's DER, lowercase hex. */
export function caFingerprint(caCertPem: string): string {
  return new X509Certificate(caCertPem).fingerprint256.replace(/:/g, "").toLowerCase();
}

/** The token for a cluster whose CA is `caCertPem`. */
export function formatJoinToken(caCertPem: string, secret: string): string {
  return `${PREFIX}${caFingerprint(caCertPem)}-${secret}`;
}

/**
 * Reads a token; a string that is not one gives the reason, worded for a person who pasted it.
 */
export function parseJoinToken(text: string): JoinToken | string {
  const t = text.trim();
  if (!t.startsWith(PREFIX)) {
    return "a join token starts with FOSSORA-1-: copy the whole line `fossora token` prints";
  }
  const m = /^([0-9a-f]{64})-([a-z2-7]{16,64})$/.exec(t.slice(PREFIX.length));
  if (!m) return "the join token is cut short or mistyped: copy it again from `fossora token`";
  return { caHash: m[1], secret: m[2] };
}
