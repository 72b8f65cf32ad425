/**
 * Cluster events: how one is made, and how many are kept.
 * @module
 */
import type { ClusterEvent } from "./types.ts";

/** The newest events kept in etcd; the elected scheduler deletes older ones. */
export const EVENTS_KEPT = 500;

/** An event at `now`, with a key that sorts by time and does not collide with another's. */
export function makeEvent(
  fields: Omit<ClusterEvent, "id" | "at">,
  now: Date = new Date(),
): ClusterEvent {
  const suffix = crypto.randomUUID().slice(0, 8);
  return {
    id: `${String(now.getTime()).padStart(13, "0")}-${suffix}`,
    at: now.toISOString(),
    ...fields,
  };
}
