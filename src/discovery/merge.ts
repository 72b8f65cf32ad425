/**
 * What a node does when discovery shows it another cluster: two clusters on one network should
 * be one, but only when that loses nothing. The cluster with no services gives way (a cluster
 * that runs services never does); of two without, the younger gives way (ties go by id). Giving
 * way means each of its nodes wipes its etcd state and joins the other cluster, keeping its node
 * identity. Two clusters that both run services are never merged: each warns, naming the other.
 * Pure: the facts are what each cluster's `GET /api/v1/join/info` says.
 * @module
 */

/** A cluster, as its join info describes it. */
export interface ClusterFacts {
  /** The cluster id. */
  id: string;
  /** When it was founded (ISO 8601). */
  created: string;
  /** No services are deployed. */
  empty: boolean;
}

/** A cluster another node answered for: its facts and where it was asked. */
export interface ForeignCluster extends ClusterFacts {
  /** The node that answered (its name). */
  node: string;
  /** Its API (`host:port`). */
  address: string;
}

/** What to do about the clusters seen. */
export interface MergePlan<T extends ClusterFacts = ClusterFacts> {
  /** The cluster this one gives way to; undefined when it stays. */
  giveWayTo?: T;
  /** Clusters that run services, as this one does: never merged, warned about. */
  conflicts: T[];
}

/** True when `a` outranks `b`: it runs services and `b` does not, else it is older (or its id sorts first). */
export function outranks(a: ClusterFacts, b: ClusterFacts): boolean {
  if (a.empty !== b.empty) return !a.empty;
  const ta = Date.parse(a.created);
  const tb = Date.parse(b.created);
  if (ta !== tb) return ta < tb;
  return a.id < b.id;
}

/**
 * What this cluster (`mine`) does about the other clusters seen: give way to the one that
 * outranks every other (so every node of this cluster picks the same one), or stay; and which
 * clusters to warn about. A cluster whose facts do not parse (a date that is no date) is
 * ignored: bad answers never make this cluster give way.
 * @example
 * ```ts
 * mergePlan(
 *   { id: "b", created: "2026-05-02T10:00:00Z", empty: true },
 *   [{ id: "a", created: "2026-05-01T10:00:00Z", empty: true }],
 * ); // { giveWayTo: { id: "a", … }, conflicts: [] }
 * ```
 */
export function mergePlan<T extends ClusterFacts>(
  mine: ClusterFacts,
  seen: readonly T[],
): MergePlan<T> {
  const others = new Map<string, T>();
  for (const c of seen) {
    if (c.id === mine.id || Number.isNaN(Date.parse(c.created))) continue;
    if (!others.has(c.id)) others.set(c.id, c);
  }
  if (!mine.empty) {
    return { giveWayTo: undefined, conflicts: [...others.values()].filter((c) => !c.empty) };
  }
  let best: T | undefined;
  for (const c of others.values()) {
    if (outranks(c, mine) && (!best || outranks(c, best))) best = c;
  }
  return { giveWayTo: best, conflicts: [] };
}

/** The warning shown for a cluster that runs services beside this one. */
export function conflictWarning(other: ForeignCluster): string {
  return `another cluster (${other.id}, node ${other.node} at ${other.address}) is on this ` +
    "network and runs services, as this one does, so the two are not merged; to make them one, " +
    "remove the services of one (fossora rm) and it joins the other";
}
