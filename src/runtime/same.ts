/**
 * Whether a newly handed wanted list is the one the runtime already has. The agent hands the
 * list over on every etcd change, every few seconds, and an equal list must cost nothing.
 * @module
 */
import { isDeepStrictEqual } from "node:util";

/** The order-independent identity of an entry: its replica key, whatever its type. */
function keyOf(w: unknown): string {
  const e = w as { service?: unknown; replica?: unknown } | null;
  return `${String(e?.service)}/${String(e?.replica)}`;
}

function sorted(list: readonly unknown[]): unknown[] {
  return [...list].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
}

/**
 * True when both lists hold the same entries (same services, replicas, generations and specs,
 * compared deeply and regardless of the order of entries or of object keys).
 */
export function sameWanted(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && isDeepStrictEqual(sorted(a), sorted(b));
}
