/**
 * The admission leader's reconciler step, as swarmkit writes them: from the queue, the admission
 * in progress, etcd's member list and the live nodes, the one next action. It admits one node at a
 * time (etcd refuses a second learner: k3s#4335), and every state a dead leader can leave behind
 * (a learner added but not recorded, a learner no admission owns, an admission that stalled) has
 * an action that finishes or undoes it, so a new leader simply runs the same step.
 * @module
 */
import type { CurrentAdmission, Member, QueuedJoin, Role } from "./types.ts";

/** What the step sees. */
export interface AdmissionState {
  queue: readonly QueuedJoin[];
  current: CurrentAdmission | undefined;
  members: readonly Member[];
  /** Ids of the nodes whose lease-backed record is live. */
  liveNodes: ReadonlySet<string>;
  now: number;
}

/** Settings of the step. */
export interface AdmissionSettings {
  /** Most etcd voters (odd, 1..7). */
  maxVoters: number;
  /** How long a learner may take from being added to catching up, ms. */
  learnerTimeoutMs: number;
  /**
   * How long an added learner may stay unstarted (its joiner never started etcd: it died, or
   * cannot reach the peers), ms. Shorter than the catch-up time, so a dead joiner does not hold
   * up the queue.
   */
  unstartedTimeoutMs: number;
  /** How long an admitted worker may take to connect, ms. */
  workerTimeoutMs: number;
  /** A queued request the joiner stopped renewing is dropped after this long, ms. */
  staleMs: number;
}

/** The defaults: generous for a Pi on Wi-Fi, short enough that a dead joiner does not block. */
export const DEFAULT_ADMISSION: AdmissionSettings = {
  maxVoters: 5,
  learnerTimeoutMs: 60_000,
  unstartedTimeoutMs: 15_000,
  workerTimeoutMs: 60_000,
  staleMs: 60_000,
};

/** The one thing to do next. */
export type AdmissionAction =
  | { kind: "wait"; why: string }
  /** Begin admitting `join`: sign its certificate, record it, and for a voter add a learner. */
  | { kind: "start"; join: QueuedJoin; role: Role }
  /** The recorded admission is at `adding` and no learner exists yet: add it. */
  | { kind: "add-learner" }
  /** The learner was added but not recorded (the leader died in between): record it. */
  | { kind: "adopt-learner"; memberId: string }
  /** Try to promote the learner; etcd refuses until it has caught up. */
  | { kind: "promote"; memberId: string }
  /** The joiner is in: clear the admission and its queue entry. */
  | { kind: "finish"; id: string; role: Role }
  /** Undo the admission: remove its learner (if any), its record and its queue entry. */
  | { kind: "abort"; id: string; memberId?: string; why: string; timedOut: boolean }
  /** A learner that no admission owns blocks every other: remove it. */
  | { kind: "remove-orphan"; memberId: string; name: string }
  /** A request its joiner stopped renewing. */
  | { kind: "drop"; id: string; why: string };

/**
 * The voters a cluster of `nodes` nodes keeps: the largest odd number up to the node count,
 * at most `maxVoters`. Two nodes get one voter: a second voter would make either node's failure
 * stop the cluster, where one voter lets the worker fail freely.
 */
export function targetVoters(nodes: number, maxVoters: number): number {
  const n = Math.max(1, Math.min(nodes, maxVoters));
  return n % 2 === 1 ? n : n - 1;
}

/** The next action. */
export function admissionStep(s: AdmissionState, o: AdmissionSettings): AdmissionAction {
  if (s.current) return stepCurrent(s, s.current, o);
  const learner = s.members.find((m) => m.isLearner);
  if (learner) return { kind: "remove-orphan", memberId: learner.id, name: learner.name };
  const stale = s.queue.find((q) => s.now - q.seenAt > o.staleMs);
  if (stale) {
    return { kind: "drop", id: stale.id, why: `it stopped asking ${secs(s.now - stale.seenAt)}` };
  }
  const next = [...s.queue]
    .filter((q) => q.trust !== "pending")
    .sort((a, b) => a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : 1))[0];
  if (!next) {
    return {
      kind: "wait",
      why: s.queue.length ? "every queued node waits for approval" : "nobody is queued",
    };
  }
  const voters = s.members.filter((m) => !m.isLearner).length;
  const known = new Set([...s.liveNodes, ...s.members.map((m) => m.name).filter(Boolean)]);
  known.delete(next.id);
  const nodes = Math.max(known.size, voters) + 1;
  // While a voter is down etcd refuses new members (it would risk quorum): a joiner then comes
  // in as a worker, which changes no membership. So does one with others queued behind it: a
  // worker is in within a second, a voter takes a learner's catch-up and etcd's 5 s between
  // changes, so everyone gets in first and the roles step makes voters of workers afterwards.
  const waiting = s.queue.some((q) => q.id !== next.id && q.trust !== "pending");
  const role = !waiting && votersDown(s).length === 0 && voters < targetVoters(nodes, o.maxVoters)
    ? "voter"
    : "worker";
  return { kind: "start", join: next, role };
}

function stepCurrent(
  s: AdmissionState,
  c: CurrentAdmission,
  o: AdmissionSettings,
): AdmissionAction {
  const age = s.now - c.progressAt;
  const abort = (why: string, memberId?: string, timedOut = false): AdmissionAction => ({
    kind: "abort",
    id: c.id,
    memberId,
    why,
    timedOut,
  });
  if (c.role === "worker") {
    if (s.liveNodes.has(c.id)) return { kind: "finish", id: c.id, role: c.role };
    if (age > o.workerTimeoutMs) {
      return abort(`it did not connect within ${secs(o.workerTimeoutMs)}`, undefined, true);
    }
    return { kind: "wait", why: `${c.name} has its certificate; waiting for it to connect` };
  }
  const member = c.memberId
    ? s.members.find((m) => m.id === c.memberId)
    : s.members.find((m) => m.peerUrls.includes(c.peerUrl));
  if (c.step === "adding") {
    if (member) return { kind: "adopt-learner", memberId: member.id };
    const down = votersDown(s);
    if (down.length) {
      return abort(`a voter is down (${down.join(", ")}): it asks again and comes in as a worker`);
    }
    if (age > o.learnerTimeoutMs) {
      return abort(`no learner was added within ${secs(o.learnerTimeoutMs)}`, undefined, true);
    }
    return { kind: "add-learner" };
  }
  if (!member) return abort("its learner member is gone from etcd");
  if (!member.isLearner) return { kind: "finish", id: c.id, role: c.role };
  // etcd names a member once it has started; an unnamed learner's joiner never started it.
  if (member.name === "" && age > o.unstartedTimeoutMs) {
    return abort(
      `its etcd member did not start within ${secs(o.unstartedTimeoutMs)}`,
      member.id,
      true,
    );
  }
  if (age > o.learnerTimeoutMs) {
    return abort(`it did not catch up within ${secs(o.learnerTimeoutMs)}`, member.id, true);
  }
  return { kind: "promote", memberId: member.id };
}

/** Voters whose node is not live: their agent died or cannot reach etcd. */
function votersDown(s: AdmissionState): string[] {
  return s.members.filter((m) => !m.isLearner && m.name && !s.liveNodes.has(m.name))
    .map((m) => m.name);
}

function secs(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
