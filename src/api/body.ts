/**
 * Reads a request body with a size limit, refusing early: a declared Content-Length over the
 * limit is refused before reading anything, and a body without one (chunked) is counted while it
 * is read and cut off as soon as it passes the limit.
 * @module
 */
import { concatBytes } from "../util/bytes.ts";
import { ApiError } from "./errors.ts";

/** Default limit of request bodies: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function tooLarge(max: number): ApiError {
  return new ApiError(
    413,
    "too_large",
    `the request body is larger than ${max} bytes; split the file into several deploys`,
  );
}

/** The whole body of `req` as bytes; throws `ApiError` 413 `too_large` past `max` bytes. */
export async function readLimitedBody(req: Request, max: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > max) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge(max);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}
