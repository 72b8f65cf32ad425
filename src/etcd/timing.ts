/**
 * etcd's heartbeat interval and election timeout from the round trip measured to its peers,
 * after etcd's tuning guide: the heartbeat about one round trip (never below etcd's default of
 * 100 ms), the election timeout at least ten round trips (never below the default 1000 ms, never
 * above etcd's limit of 50 s). Pure: the tuner measures and restarts.
 * @module
 */

/** A member's timing flags: `--heartbeat-interval` and `--election-timeout`, in ms. */
export interface EtcdTiming {
  heartbeatMs: number;
  electionMs: number;
}

/** etcd's own defaults: what a member started without timing flags runs with. */
export const DEFAULT_TIMING: Readonly<EtcdTiming> = { heartbeatMs: 100, electionMs: 1000 };

/** etcd refuses an election timeout above 50 s. */
export const MAX_ELECTION_MS = 50_000;

/** Election timeouts are this many heartbeats: the guide's "at least 10 round trips". */
export const ELECTION_HEARTBEATS = 10;

/**
 * Heartbeats are rounded up to this step: the rounding is the headroom above the measured
 * round trip, and jitter within one step asks for no change at all.
 */
export const HEARTBEAT_STEP_MS = 50;

/**
 * The timing for round trips (ms) to this member's peers: the largest one counts, since any
 * peer may lead and a follower must hear the leader's heartbeats within its election timeout.
 * No round trips (a lone member) gives etcd's defaults.
 */
export function etcdTiming(rttsMs: readonly number[]): EtcdTiming {
  for (const rtt of rttsMs) {
    if (!Number.isFinite(rtt) || rtt < 0) {
      throw new RangeError(`etcdTiming: a round trip is a finite number of ms ≥ 0, not ${rtt}`);
    }
  }
  const rtt = Math.max(0, ...rttsMs);
  const maxHeartbeat = MAX_ELECTION_MS / ELECTION_HEARTBEATS;
  const heartbeatMs = Math.min(
    maxHeartbeat,
    Math.max(DEFAULT_TIMING.heartbeatMs, Math.ceil(rtt / HEARTBEAT_STEP_MS) * HEARTBEAT_STEP_MS),
  );
  const electionMs = Math.min(
    MAX_ELECTION_MS,
    Math.max(DEFAULT_TIMING.electionMs, heartbeatMs * ELECTION_HEARTBEATS),
  );
  return { heartbeatMs, electionMs };
}

/**
 * Whether moving from `current` to `wanted` is worth restarting the member. Tighter than
 * wanted risks elections the network did not call for, so any rise restarts (the rounding in
 * {@link etcdTiming} keeps jitter from asking for one); looser than wanted only slows the
 * take-over after a real failure, so a fall restarts only once wanted is less than half of
 * current. A round trip that wavers across a step therefore moves the timing up once and
 * never back and forth.
 */
export function needsRetune(current: EtcdTiming, wanted: EtcdTiming): boolean {
  if (wanted.heartbeatMs > current.heartbeatMs || wanted.electionMs > current.electionMs) {
    return true;
  }
  return wanted.heartbeatMs * 2 < current.heartbeatMs ||
    wanted.electionMs * 2 < current.electionMs;
}

/** The same timing; for comparing what runs with what is wanted. */
export function sameTiming(a: EtcdTiming, b: EtcdTiming): boolean {
  return a.heartbeatMs === b.heartbeatMs && a.electionMs === b.electionMs;
}

/**
 * A clear error for timing etcd would refuse at start (it wants whole ms, an election timeout
 * of at least five heartbeats, and at most 50 s); undefined when it is fine.
 */
export function timingProblem(t: EtcdTiming): string | undefined {
  const { heartbeatMs: h, electionMs: e } = t;
  if (!Number.isInteger(h) || h < 1) return `heartbeat ${h} ms: give a whole number of ms ≥ 1`;
  if (!Number.isInteger(e) || e < 1) return `election timeout ${e} ms: give a whole number ≥ 1`;
  if (e < 5 * h) {
    return `election timeout ${e} ms is under 5 heartbeats (${h} ms): etcd refuses it; ` +
      `give at least ${5 * h} ms`;
  }
  if (e > MAX_ELECTION_MS) {
    return `election timeout ${e} ms is above etcd's limit of ${MAX_ELECTION_MS} ms`;
  }
  return undefined;
}
