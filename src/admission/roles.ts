/**
 * The control plane's shape, as a swarmkit-style step: from etcd's members, the admitted nodes
 * and which of them are live, the one membership change to make next. It keeps an odd number of
 * voters (the largest odd count up to the live nodes, at most `maxVoters`), spread across sites;
 * replaces a voter that stayed down past the grace period with a worker; moves the vote of a node
 * that leaves; and forgets the old record of a node that was reinstalled under the same name.
 * Only one change at a time, and none that would cost quorum.
 * @module
 */
import type { MemberRecord } from "../state/types.ts";
import { targetVoters } from "./step.ts";
import type { Member } from "./types.ts";

/** What the step sees. */
export interface RolesState {
  /** etcd's members (voters and learners). */
  members: readonly Member[];
  /** The admitted nodes (`members/…`). */
  records: readonly MemberRecord[];
  /** Ids of the nodes whose leased record is live. */
  liveNodes: ReadonlySet<string>;
  /** Since when (ms) each voter that is not live has been seen down by this leader. */
  downSince: ReadonlyMap<string, number>;
  /** Workers whose promotion failed lately, with when they may be tried again (ms). */
  cooldown: ReadonlyMap<string, number>;
  /** The node running this step: it demotes others before itself (leadership would move). */
  self: string;
  now: number;
}

/** Settings of the step. */
export interface RolesSettings {
  maxVoters: number;
  /** How long a voter may stay down before its vote goes to another node, ms. */
  voterGraceMs: number;
}

/** The one membership change to make next. */
export type RolesAction =
  | { kind: "none"; why: string }
  /** Remove this etcd voter: it is dead past the grace period, over the count, or leaving. */
  | { kind: "remove-voter"; memberId: string; id: string; name: string; why: string }
  /** Make this live worker a voter (as an admission: learner, catch up, promote). */
  | { kind: "promote-worker"; record: MemberRecord; why: string }
  /** A worker that leaves has nothing to hand over: it may go. */
  | { kind: "release"; id: string; name: string }
  /** Forget an older record that a reinstalled node (same name, new id) replaced. */
  | { kind: "forget"; id: string; name: string; memberId?: string; why: string };

/** The next change. */
export function rolesStep(s: RolesState, o: RolesSettings): RolesAction {
  const byId = new Map(s.records.map((r) => [r.id, r]));
  const voters = s.members.filter((m) => !m.isLearner && m.name);
  const live = (id: string) => s.liveNodes.has(id);
  const liveVoters = voters.filter((m) => live(m.name));
  // Removing one voter must leave a quorum of the rest alive.
  const canRemove = (m: Member) => {
    const rest = voters.length - 1;
    const aliveAfter = liveVoters.filter((v) => v.id !== m.id).length;
    return rest >= 1 && aliveAfter >= Math.floor(rest / 2) + 1;
  };
  const removal = (m: Member, why: string): RolesAction => ({
    kind: "remove-voter",
    memberId: m.id,
    id: m.name,
    name: byId.get(m.name)?.name ?? m.name,
    why,
  });

  // A node reinstalled under the same name came back with a new id: its old record goes.
  for (const old of s.records) {
    const newer = s.records.find((r) =>
      r.id !== old.id && r.name === old.name && r.joinedAt > old.joinedAt && !r.leftAt
    );
    if (!newer || live(old.id)) continue;
    const member = voters.find((m) => m.name === old.id);
    if (member && !canRemove(member)) continue;
    return {
      kind: "forget",
      id: old.id,
      name: old.name,
      memberId: member?.id,
      why: `${old.name} was reinstalled (new id ${newer.id})`,
    };
  }

  // A voter down past the grace period: its vote goes, while the others keep quorum.
  for (const m of voters) {
    if (live(m.name)) continue;
    const since = s.downSince.get(m.name) ?? s.now;
    if (s.now - since < o.voterGraceMs || !canRemove(m)) continue;
    return removal(m, `down for ${Math.round((s.now - since) / 1000)} s`);
  }

  // A learner means an admission is under way; the admission step owns it.
  if (s.members.some((m) => m.isLearner)) return { kind: "none", why: "a learner is catching up" };
  // Changes below need every voter up: etcd refuses a new member otherwise.
  if (liveVoters.length < voters.length) return { kind: "none", why: "a voter is down" };

  // The count that sets the target includes a node down for less than the grace period: a
  // worker whose lease blinked must not cost a voter its vote (and its etcd data).
  const counted = s.records.filter((r) =>
    !r.leaving && !r.leftAt && (live(r.id) || s.now - (r.downAt ?? s.now) < o.voterGraceMs)
  );
  const active = counted.filter((r) => live(r.id));
  const target = Math.min(targetVoters(Math.max(counted.length, 1), o.maxVoters), counted.length);
  const voterIds = new Set(voters.map((m) => m.name));
  const leavingVoters = voters.filter((m) => byId.get(m.name)?.leaving);
  const staying = voters.length - leavingVoters.length;
  const candidates = active
    .filter((r) => !voterIds.has(r.id) && (s.cooldown.get(r.id) ?? 0) <= s.now)
    .sort((a, b) => a.joinedAt - b.joinedAt || (a.id < b.id ? -1 : 1));
  const siteOf = (id: string) => byId.get(id)?.site ?? "default";
  const votersAt = new Map<string, number>();
  for (const m of voters) {
    if (!byId.get(m.name)?.leaving) {
      votersAt.set(siteOf(m.name), (votersAt.get(siteOf(m.name)) ?? 0) + 1);
    }
  }
  if (staying < target && candidates.length) {
    // A new voter comes from the site with the fewest voters.
    const [r] = [...candidates]
      .sort((a, b) => (votersAt.get(a.site) ?? 0) - (votersAt.get(b.site) ?? 0));
    return {
      kind: "promote-worker",
      record: r,
      why: `the cluster keeps ${target} voter(s) and has ${staying}`,
    };
  }
  // A leaving voter hands its vote over first (above), then goes; this node too: its etcd
  // client reaches the other voters through the balancer.
  const leaving = leavingVoters.find(canRemove);
  if (leaving) return removal(leaving, "it leaves the cluster");
  const leavingWorker = s.records.find((r) => r.leaving && !r.leftAt && !voterIds.has(r.id));
  if (leavingWorker) return { kind: "release", id: leavingWorker.id, name: leavingWorker.name };

  // Too many voters (a node left, or --max-voters went down): one goes back to being a worker,
  // from the site with the most voters, never this node.
  if (voters.length > target) {
    const m = demotable(voters, s.self, siteOf, votersAt);
    if (m) return removal(m, `the cluster keeps ${target} voter(s) and has ${voters.length}`);
  }
  // Spread: a site without a voter gets one from a site that has two or more; the count is
  // then one over and the rule above takes a voter from the crowded site.
  const crowded = [...votersAt.values()].some((n) => n >= 2);
  const lonely = candidates.find((r) => !votersAt.has(r.site));
  if (crowded && lonely && voters.length === target) {
    return {
      kind: "promote-worker",
      record: lonely,
      why: `site ${lonely.site} has no voter`,
    };
  }
  return { kind: "none", why: `${voters.length} voter(s), as wanted` };
}

function demotable(
  voters: readonly Member[],
  self: string,
  siteOf: (id: string) => string,
  votersAt: ReadonlyMap<string, number>,
): Member | undefined {
  return voters
    .filter((m) => m.name !== self)
    .sort((a, b) =>
      (votersAt.get(siteOf(b.name)) ?? 0) - (votersAt.get(siteOf(a.name)) ?? 0) ||
      (a.name < b.name ? 1 : -1)
    )[0];
}
