/**
 * Sizes as Docker and compose write them (`64m`, `1g`, `1.5G`, `512MiB`, `100b`) or a number of
 * bytes, in binary units as `docker run --memory` and `--shm-size` read them.
 * @module
 */
import { expected, type Problems } from "./problems.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Bytes in a size (`64m` → 67108864, `1g`, `1.5G`, `512MiB`, `100b`, or a number of bytes), or
 * undefined when it is not a positive size.
 */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value > 0 ? Math.round(value) || undefined : undefined;
  }
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * unit);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * Checks a size of at least `min` bytes; returns the bytes when valid. `what` names the thing
 * in the message, e.g. "a memory limit".
 */
export function checkBytes(
  value: unknown,
  path: string,
  out: Problems,
  what = "a size",
  min = 1,
): number | undefined {
  const bytes = parseBytes(value);
  if (bytes === undefined) {
    out.push({ path, message: expected(`${what} such as 64m, 1g or a number of bytes`, value) });
    return undefined;
  }
  if (bytes < min) {
    out.push({ path, message: `${what} of ${bytes} bytes is too small; give at least ${min}` });
    return undefined;
  }
  return bytes;
}
