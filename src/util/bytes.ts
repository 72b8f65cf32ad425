/**
 * Joining byte arrays, which several parts need (log lines, request bodies, DNS over TCP, the
 * proxy's framing).
 * @module
 */

/**
 * A new array holding `parts` one after the other; undefined parts are skipped. Always a copy,
 * so callers may reuse the buffers they pass.
 * @example
 * ```ts
 * concatBytes([new Uint8Array([1]), undefined, new Uint8Array([2, 3])]); // [1, 2, 3]
 * ```
 */
export function concatBytes(parts: readonly (Uint8Array | undefined)[]): Uint8Array {
  let n = 0;
  for (const p of parts) if (p) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    if (!p) continue;
    out.set(p, at);
    at += p.length;
  }
  return out;
}
