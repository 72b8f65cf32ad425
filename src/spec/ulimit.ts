/**
 * Resource limits of a container's processes (`docker run --ulimit`): the names Docker knows,
 * a soft and a hard value (-1 for unlimited), the soft one not above the hard one.
 * @module
 */
import type { Ulimit } from "../state/types.ts";
import { nearest } from "../util/suggest.ts";
import {
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";

/** The limits Docker knows, by `ulimit`'s name. */
export const ULIMIT_NAMES: readonly string[] = [
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
];

function limitValue(value: unknown, path: string, out: Problems): number | undefined {
  const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n === "number" && Number.isSafeInteger(n) && n >= -1) return n;
  out.push({ path, message: expected("a whole number, or -1 for unlimited", value) });
  return undefined;
}

/** -1 is unlimited: above every number. */
function above(a: number, b: number): boolean {
  if (a === -1) return b !== -1;
  return b !== -1 && a > b;
}

/**
 * Checks one limit: `name` and its value, a number (soft and hard alike) or `{ soft, hard }`.
 * Returns it when valid.
 */
export function checkUlimit(
  name: string,
  value: unknown,
  path: string,
  out: Problems,
): Ulimit | undefined {
  if (!ULIMIT_NAMES.includes(name)) {
    const near = nearest(name.toLowerCase(), ULIMIT_NAMES, { maxDistance: 2 });
    out.push({
      path,
      message: `unknown limit '${name}'${near ? ` (did you mean '${near}'?)` : ""}; Docker knows ${
        ULIMIT_NAMES.join(", ")
      }`,
    });
    return undefined;
  }
  if (isMapping(value)) {
    unknownKeys(value, ["soft", "hard"], path, out);
    if (value.soft === undefined || value.hard === undefined) {
      out.push({ path, message: "needs both soft and hard, e.g. { soft: 1024, hard: 4096 }" });
      return undefined;
    }
    const soft = limitValue(value.soft, keyPath(path, "soft"), out);
    const hard = limitValue(value.hard, keyPath(path, "hard"), out);
    if (soft === undefined || hard === undefined) return undefined;
    if (above(soft, hard)) {
      out.push({
        path: keyPath(path, "soft"),
        message: `soft limit ${soft} is above the hard limit ${hard}; lower it or raise hard`,
      });
      return undefined;
    }
    return { name, soft, hard };
  }
  const both = limitValue(value, path, out);
  return both === undefined ? undefined : { name, soft: both, hard: both };
}

/**
 * Checks limits given as a mapping (`{ nofile: { soft: 1024, hard: 4096 }, nproc: 512 }`) or a
 * list of `{ name, soft, hard }`; returns them when every one is valid.
 */
export function checkUlimits(value: unknown, path: string, out: Problems): Ulimit[] | undefined {
  const before = out.length;
  const found: Ulimit[] = [];
  if (isMapping(value)) {
    for (const [name, raw] of entries(value)) {
      const u = checkUlimit(name, raw, keyPath(path, name), out);
      if (u) found.push(u);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = indexPath(path, i);
      if (!isMapping(item) || typeof item.name !== "string") {
        out.push({ path: at, message: expected("{ name, soft, hard }", item) });
        return;
      }
      const { name, ...limits } = item;
      const u = checkUlimit(name, limits, at, out);
      if (u) found.push(u);
    });
  } else {
    out.push({
      path,
      message: expected("a mapping such as { nofile: { soft: 1024, hard: 4096 } }", value),
    });
  }
  const names = new Set<string>();
  for (const u of found) {
    if (names.has(u.name)) {
      out.push({ path, message: `limit '${u.name}' is given twice; give it once` });
    }
    names.add(u.name);
  }
  return out.length === before ? found : undefined;
}
