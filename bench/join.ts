/**
 * Issue 7's join figures, on hosts of the one-machine harness (network namespaces on a bridge,
 * each with its own dockerd), the cluster formed as `scripts/cluster.ts` forms it (node1 founds,
 * the others `--join=node1:7440 --token-file=…`):
 *
 * - one node at a time: from spawning a new node's agent to it being a ready member (its own
 *   health ready and node1 listing it `ready`), `trials` times, each into the cluster the trials
 *   before grew (so roles vary as fossora reshapes it: the 2nd node joins as a worker, the 3rd
 *   as a voter…); the cluster settles between trials.
 * - five at once: a new cluster on the same hosts (data wiped), node1 founding it, five agents
 *   spawned together, until all five are ready members.
 *
 * The reference, measured in the same run on the same hosts (etcd_ref.ts): adding a bare etcd
 * member of the same kind (fossora's etcd flags, the node's certificate, learner then promote)
 * to a bare etcd cluster grown alongside, from the add until the new member is healthy. That is
 * the membership work a joining voter cannot do without; fossora's time adds the agent's start
 * (Deno), the token check, issuing the node's certificate and the leader's queue. A node that
 * joins as a worker starts no etcd at all, so its ratio can be below 1. For five at once the
 * reference adds, one after another as etcd requires, as many voters as fossora ended with.
 * Each trial's fossora join runs first: the reference member needs the certificate the join gave.
 * Each trial starts, on either side, at least etcd's health interval after that cluster's last
 * membership change: etcd refuses a change until its leader has been connected to every voter
 * for 5 s, and a node joining a steady cluster (what a trial measures) does not meet that wait;
 * joins that follow each other closely are the five-at-once figure's business.
 * @module
 */
import { Hosts } from "../test/helpers/hosts.ts";
import { fossoraEtcdArgs, RefCluster } from "./etcd_ref.ts";
import { waitMembers, waitSettled } from "./members.ts";
import { type Load, LoadWatch } from "./others.ts";

/** Nodes started together in the second figure (issue 7). */
export const TOGETHER = 5;
/** How long one join may take before the bench gives up on it. */
const JOIN_TIMEOUT_MS = 60_000;
/** How long the cluster may take to settle its voters after a join. */
const SETTLE_TIMEOUT_MS = 60_000;
/** etcd's HealthInterval (5 s), and a little more: see the module's documentation. */
const ETCD_STEADY_MS = 5_500;

/** Resolves at `t` (a `performance.now()` time); at once if it has passed. */
function until(t: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));
}

/** One node joining. */
export interface JoinTrial {
  node: string;
  /** Nodes in the cluster once it joined. */
  size: number;
  ms: number;
  /** Its role when it became a ready member. */
  role: string;
  /** The reference: one bare etcd member added and healthy. */
  refMs: number;
  /** Why the cluster did not settle after it, if it did not. */
  unsettled?: string;
}

/** Five nodes joining at once. */
export interface Together {
  nodes: number;
  /** Until the last of them was a ready member. */
  ms: number;
  /** Each node's own time. */
  each: Record<string, number>;
  /** Each node's role when it became a ready member. */
  roles: Record<string, string>;
  /** Voters once the cluster settled. */
  voters: number;
  /** The reference: `voters - 1` bare etcd members added one after another. */
  refMs: number;
  unsettled?: string;
}

/** What the join benchmark measured. */
export interface JoinFigures {
  trials: JoinTrial[];
  together: Together;
  load: Load;
}

/** Hosts the join benchmark needs for `trials` trials. */
export function joinHosts(trials: number): number {
  return Math.max(trials, TOGETHER) + 1;
}

/** Writes node1's join token to a file and returns the flags a joining agent gets. */
async function joinFlags(cluster: Hosts): Promise<string[]> {
  const first = cluster.hosts[0];
  const { token } = await first.json<{ token: string }>("/api/v1/token");
  const tokenFile = `${cluster.dir}/join-token`;
  await Deno.writeTextFile(tokenFile, token + "\n", { mode: 0o600 });
  return [`--join=${first.address}:${first.apiPort}`, `--token-file=${tokenFile}`];
}

/** Runs the join benchmark; everything it makes is disposed with `stack`. */
export async function measureJoins(
  trials: number,
  stack: AsyncDisposableStack,
  progress: (msg: string) => void,
): Promise<JoinFigures> {
  const n = joinHosts(trials);
  progress(`join: making ${n} hosts (a namespace and a dockerd each)`);
  const cluster = stack.use(
    await Hosts.create(n, { startAgents: false, handleSignals: false, images: [] }),
  );
  const [first, ...rest] = cluster.hosts;
  const watch = await LoadWatch.start();

  await first.start();
  let flags = await joinFlags(cluster);
  let ref = stack.use(new RefCluster(await fossoraEtcdArgs(first)));
  await ref.found(first);
  let steady = performance.now();
  let refSteady = steady;
  const out: JoinTrial[] = [];
  for (const h of rest.slice(0, trials)) {
    await until(steady + ETCD_STEADY_MS);
    const t0 = performance.now();
    await h.spawn(flags);
    const joined = await waitMembers(first, [h], t0, JOIN_TIMEOUT_MS);
    const ms = joined.ms.get(h.name)!;
    const size = out.length + 2;
    const settled = await waitSettled(
      first,
      cluster.hosts.slice(0, size).map((x) => x.name),
      SETTLE_TIMEOUT_MS,
    );
    steady = performance.now();
    await until(refSteady + ETCD_STEADY_MS);
    const refMs = await ref.add(h);
    refSteady = performance.now();
    out.push({
      node: h.name,
      size,
      ms,
      role: joined.roles.get(h.name) ?? "?",
      refMs,
      unsettled: typeof settled === "string" ? settled : undefined,
    });
    progress(
      `join: ${h.name} a ready member in ${(ms / 1000).toFixed(2)} s ` +
        `(${out.at(-1)!.role}); a bare etcd member in ${(refMs / 1000).toFixed(2)} s`,
    );
  }

  progress(`join: a new cluster on the same hosts, ${TOGETHER} nodes joining at once`);
  await ref[Symbol.asyncDispose]();
  await Promise.all(cluster.hosts.map((h) => h.wipe()));
  await first.start();
  flags = await joinFlags(cluster);
  const five = rest.slice(0, TOGETHER);
  const t0 = performance.now();
  await Promise.all(five.map((h) => h.spawn(flags)));
  const joined = await waitMembers(first, five, t0, JOIN_TIMEOUT_MS);
  const ms = Math.max(...joined.ms.values());
  const settled = await waitSettled(
    first,
    [first, ...five].map((h) => h.name),
    SETTLE_TIMEOUT_MS,
  );
  const roles = typeof settled === "string" ? joined.roles : settled;
  const voterHosts = five.filter((h) => roles.get(h.name) === "voter");
  ref = stack.use(new RefCluster(await fossoraEtcdArgs(first)));
  await ref.found(first);
  const r0 = performance.now();
  for (const h of voterHosts) await ref.add(h);
  const refMs = performance.now() - r0;
  await ref[Symbol.asyncDispose]();
  progress(
    `join: ${TOGETHER} at once all ready members in ${(ms / 1000).toFixed(2)} s; ` +
      `${voterHosts.length} bare etcd voters added in ${(refMs / 1000).toFixed(2)} s`,
  );
  return {
    trials: out,
    together: {
      nodes: TOGETHER,
      ms,
      each: Object.fromEntries(joined.ms),
      roles: Object.fromEntries(five.map((h) => [h.name, joined.roles.get(h.name) ?? "?"])),
      voters: voterHosts.length + 1,
      refMs,
      unsettled: typeof settled === "string" ? settled : undefined,
    },
    load: await watch.stop(),
  };
}
