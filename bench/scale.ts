/**
 * Issue 7's largest cluster: how many nodes (5 voters, the rest workers) converge and stay
 * healthy on this machine, and what each agent costs at idle.
 *
 * Hosts of the one-machine harness (a network namespace each, on one bridge); hosts 1 to 6 run
 * a dockerd each and every later host uses host 6's (the harness's `dockerOf`): one engine per
 * node would cost the machine more than the agents, and nodes on one engine keep apart by their
 * node id (the runtime labels and names containers with it). No service runs: the figure is the
 * control plane's. node1 founds the cluster and the
 * others join it five at a time, each batch given two minutes to become ready members; a batch
 * that does not stops the growth, and the figure is the size before it.
 *
 * Idle cost, once the cluster stopped reshaping and its CPU use is steady: CPU (utime + stime in
 * /proc/PID/stat) over a 30 s window and VmRSS at its end, per voter (agent + its etcd) and per
 * worker (agent alone). The cluster must be healthy before and after the window (every agent
 * ready, node1 listing every node ready, five voters). References, in the same window:
 * - a bare etcd voter: a 5-member etcd cluster (etcd_ref.ts) on the voters' hosts, with
 *   fossora's etcd flags and certificates, idle. The agent's work at idle (leases, watches,
 *   probes) is of the same nature as a member's (heartbeats, a leader's lease checks); a
 *   voter's figure includes its own etcd, so it is at least 1x by construction.
 * - a minimal Deno process (a timer and nothing else, with the agents' V8 flags) for memory:
 *   what any Deno program costs; its idle CPU is about nil, so it makes no CPU ratio.
 * @module
 */
import { AGENT_V8_FLAGS } from "../src/agent/v8_flags.ts";
import { type Host, Hosts } from "../test/helpers/hosts.ts";
import { clockTicks, readStat } from "./cpu.ts";
import { fossoraEtcdArgs, fossoraEtcdPid, RefCluster } from "./etcd_ref.ts";
import { expectedVoters, isReady, listNodes, waitMembers } from "./members.ts";
import { type Load, LoadWatch } from "./others.ts";
import { readRss } from "./rss.ts";

/** Nodes joining at a time while the cluster grows. */
export const BATCH = 5;
/** Hosts that run a dockerd of their own before the shared one. */
export const OWN_ENGINES = 5;
/** Length of the idle window, s. */
export const IDLE_WINDOW_S = 30;
const BATCH_TIMEOUT_MS = 120_000;
const QUIET_TIMEOUT_MS = 90_000;

/** Idle cost of one kind of node: mean and highest per node. */
export interface PerNode {
  count: number;
  /** CPU seconds a second (1 = one core). */
  cpu: number;
  cpuMax: number;
  /** VmRSS, bytes. */
  rss: number;
  rssMax: number;
}

/** What the largest-cluster benchmark measured. */
export interface ScaleFigures {
  target: number;
  /** Nodes that were ready members when the growth ended. */
  converged: number;
  /** Why the growth stopped short of the target. */
  failure?: string;
  /** Each batch: the cluster's size after it and how long it took to be all ready members. */
  growth: { nodes: number; ms: number }[];
  /** dockerds the hosts ran. */
  engines: number;
  /** What was wrong with the cluster just before and just after the idle window. */
  problems: { before: string[]; after: string[] };
  idle: {
    windowS: number;
    voters: PerNode;
    workers: PerNode;
    refEtcd: PerNode;
    minimalDeno: PerNode;
    /** CPU of every agent and etcd of the cluster together, seconds a second. */
    clusterCpu: number;
  };
  load: Load;
}

/** Host i's engine: its own for the first {@link OWN_ENGINES}, the next host's for the rest. */
export function engineOf(i: number): number {
  return i <= OWN_ENGINES ? i : OWN_ENGINES + 1;
}

/** Mean and highest of per-node readings. */
export function perNode(readings: { cpu: number; rss: number }[]): PerNode {
  const n = readings.length;
  const sum = (f: (r: { cpu: number; rss: number }) => number) =>
    readings.reduce((s, r) => s + f(r), 0);
  return {
    count: n,
    cpu: n ? sum((r) => r.cpu) / n : 0,
    cpuMax: n ? Math.max(...readings.map((r) => r.cpu)) : 0,
    rss: n ? sum((r) => r.rss) / n : 0,
    rssMax: n ? Math.max(...readings.map((r) => r.rss)) : 0,
  };
}

/** What is wrong with the cluster of `hosts` as `via` sees it; empty when healthy. */
export async function healthProblems(via: Host, hosts: Host[]): Promise<string[]> {
  const out: string[] = [];
  const ready = await Promise.all(hosts.map(async (h) => h.running && await isReady(h)));
  hosts.forEach((h, i) => {
    if (!h.running) out.push(`${h.name}'s agent exited`);
    else if (!ready[i]) out.push(`${h.name} is not ready`);
  });
  const nodes = new Map((await listNodes(via)).map((n) => [n.name, n]));
  if (nodes.size === 0) return [...out, `${via.name} lists no nodes`];
  for (const h of hosts) {
    const n = nodes.get(h.name);
    if (!n) out.push(`${via.name} does not list ${h.name}`);
    else if (n.state !== "ready") out.push(`${via.name} lists ${h.name} ${n.state}`);
  }
  const voters = [...nodes.values()].filter((n) => n.role === "voter").length;
  const want = expectedVoters(hosts.length);
  if (voters !== want) out.push(`${voters} voters, not ${want}`);
  return out;
}

/** CPU ticks of each pid now (0 for one that exited). */
async function ticks(pids: number[]): Promise<number[]> {
  return await Promise.all(pids.map(async (p) => (await readStat(p))?.ticks ?? 0));
}

/**
 * Waits until the processes' CPU use is steady: two 5 s windows in a row within 20% (or 0.02 of
 * a core) of each other, so the idle window does not catch the end of the joins.
 */
async function waitQuiet(pids: number[], progress: (m: string) => void): Promise<void> {
  const hz = await clockTicks();
  const deadline = performance.now() + QUIET_TIMEOUT_MS;
  let last: number | undefined;
  for (;;) {
    const before = (await ticks(pids)).reduce((a, b) => a + b, 0);
    await new Promise((r) => setTimeout(r, 5000));
    const rate = ((await ticks(pids)).reduce((a, b) => a + b, 0) - before) / hz / 5;
    if (last !== undefined && Math.abs(rate - last) <= Math.max(0.02, 0.2 * last)) return;
    if (performance.now() > deadline) {
      progress(`scale: CPU use still moving after ${QUIET_TIMEOUT_MS / 1000} s; measuring anyway`);
      return;
    }
    last = rate;
  }
}

/** Starts a Deno process that does nothing but keep a timer, with the agents' V8 flags. */
async function startMinimalDeno(dir: string): Promise<Deno.ChildProcess> {
  const file = `${dir}/minimal.ts`;
  await Deno.writeTextFile(file, "setInterval(() => {}, 3_600_000);\n");
  return new Deno.Command(Deno.execPath(), {
    args: ["run", file],
    env: { DENO_V8_FLAGS: AGENT_V8_FLAGS, DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Runs the largest-cluster benchmark for `target` nodes; all it makes is disposed with `stack`. */
export async function measureScale(
  target: number,
  stack: AsyncDisposableStack,
  progress: (msg: string) => void,
): Promise<ScaleFigures> {
  const watch = await LoadWatch.start();
  const engines = Math.min(target, OWN_ENGINES + 1);
  progress(`scale: making ${target} hosts with ${engines} dockerds`);
  const cluster = stack.use(
    await Hosts.create(target, {
      startAgents: false,
      handleSignals: false,
      images: [],
      dockerOf: engineOf,
    }),
  );
  const [first, ...rest] = cluster.hosts;
  await first.start();
  const { token } = await first.json<{ token: string }>("/api/v1/token");
  const tokenFile = `${cluster.dir}/join-token`;
  await Deno.writeTextFile(tokenFile, token + "\n", { mode: 0o600 });
  const flags = [`--join=${first.address}:${first.apiPort}`, `--token-file=${tokenFile}`];

  const members: Host[] = [first];
  const growth: ScaleFigures["growth"] = [];
  let failure: string | undefined;
  for (let i = 0; i < rest.length; i += BATCH) {
    const batch = rest.slice(i, i + BATCH);
    const t0 = performance.now();
    await Promise.all(batch.map((h) => h.spawn(flags)));
    try {
      await waitMembers(first, batch, t0, BATCH_TIMEOUT_MS, 250);
    } catch (err) {
      failure = `growing to ${members.length + batch.length} nodes: ${(err as Error).message}`;
      progress(`scale: ${failure}; stopping the growth at ${members.length} nodes`);
      await Promise.all(batch.map((h) => h.stop()));
      break;
    }
    members.push(...batch);
    growth.push({ nodes: members.length, ms: performance.now() - t0 });
    progress(
      `scale: ${members.length} nodes, the last ${batch.length} ready members in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }

  const roles = new Map((await listNodes(first)).map((n) => [n.name, n.role]));
  const voters = members.filter((h) => roles.get(h.name) === "voter");
  const workers = members.filter((h) => roles.get(h.name) !== "voter");
  progress(`scale: the reference: a bare etcd cluster on the ${voters.length} voters' hosts`);
  const ref = stack.use(new RefCluster(await fossoraEtcdArgs(voters[0] ?? first)));
  await ref.found(voters[0] ?? first);
  for (const h of voters.slice(1)) await ref.add(h);
  const minimal = await startMinimalDeno(cluster.dir);
  stack.defer(async () => {
    try {
      minimal.kill("SIGKILL");
    } catch { /* gone */ }
    await minimal.status;
  });

  const etcdOf = new Map<string, number>();
  for (const h of voters) {
    const pid = await fossoraEtcdPid(h);
    if (pid) etcdOf.set(h.name, pid);
  }
  const agentPid = (h: Host) => h.pid ?? 0;
  const all = [
    ...members.map(agentPid),
    ...etcdOf.values(),
    ...ref.members.map((m) => m.pid),
    minimal.pid,
  ];
  progress("scale: waiting for the cluster's CPU use to be steady");
  await waitQuiet(all, progress);
  const before = await healthProblems(first, members);
  progress(`scale: idle window of ${IDLE_WINDOW_S} s`);
  const hz = await clockTicks();
  const t0 = await ticks(all);
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_WINDOW_S * 1000));
  const t1 = await ticks(all);
  const seconds = (performance.now() - w0) / 1000;
  const cpuOf = new Map(all.map((p, i) => [p, (t1[i] - t0[i]) / hz / seconds]));
  const rssOf = new Map(
    await Promise.all(all.map(async (p) => [p, (await readRss(p)) ?? 0] as const)),
  );
  const after = await healthProblems(first, members);

  const reading = (pids: number[]) => ({
    cpu: pids.reduce((s, p) => s + (cpuOf.get(p) ?? 0), 0),
    rss: pids.reduce((s, p) => s + (rssOf.get(p) ?? 0), 0),
  });
  const nodePids = (h: Host) => [agentPid(h), ...(etcdOf.has(h.name) ? [etcdOf.get(h.name)!] : [])];
  return {
    target,
    converged: members.length,
    failure,
    growth,
    engines,
    problems: { before, after },
    idle: {
      windowS: seconds,
      voters: perNode(voters.map((h) => reading(nodePids(h)))),
      workers: perNode(workers.map((h) => reading(nodePids(h)))),
      refEtcd: perNode(ref.members.map((m) => reading([m.pid]))),
      minimalDeno: perNode([reading([minimal.pid])]),
      clusterCpu: members.reduce((s, h) => s + reading(nodePids(h)).cpu, 0),
    },
    load: await watch.stop(),
  };
}
