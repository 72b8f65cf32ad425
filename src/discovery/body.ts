/**
 * Reading an answer's body with a size limit: discovery reads answers from tailscaled and from
 * whatever listens on a peer's API port, and neither may make this node hold an unbounded body.
 * @module
 */
import { concatBytes } from "../util/bytes.ts";

/** Thrown by {@link readBoundedBody} when a body passes its limit. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the answer is larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/**
 * The whole body of `res`, refusing a declared `Content-Length` over `max` before reading and
 * cutting a longer stream off as soon as it passes `max`; the rest is cancelled, not read.
 * @example
 * ```ts
 * const bytes = await readBoundedBody(await fetch(url), 64 * 1024);
 * ```
 */
export async function readBoundedBody(res: Response, max: number): Promise<Uint8Array> {
  const declared = res.headers.get("content-length");
  if (declared !== null && Number(declared) > max) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(max);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) throw new BodyTooLarge(max);
      chunks.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  return concatBytes(chunks);
}

/** `body` as a JSON object (UTF-8), or undefined when it is anything else: a peer's answer is untrusted. */
export function jsonObject(body: Uint8Array): Record<string, unknown> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  return json as Record<string, unknown>;
}
