/**
 * Random strings for ids and secrets, from the system's cryptographic generator.
 * @module
 */

/** `bytes` random bytes as lowercase hex (two characters per byte), e.g. a node id. */
export function randomHex(bytes: number): string {
  return Array.from(randomBytes(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * `bytes` random bytes as unpadded base64url (`A-Z a-z 0-9 - _`), safe in URLs, headers and
 * file names: the form of fossora's tokens.
 */
export function randomBase64Url(bytes: number): string {
  return btoa(String.fromCharCode(...randomBytes(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
