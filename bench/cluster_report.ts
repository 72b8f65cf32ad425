/**
 * The cluster figures of issue 7 (join.ts, scale.ts) as ratios to their references, goals met or
 * missed, and a readable report. Pure, so the verdicts and the layout are tested without a
 * cluster.
 * @module
 */
import type { FailoverFigures, FailoverRun } from "./failover.ts";
import type { JoinFigures } from "./join.ts";
import type { Load } from "./others.ts";
import { mib, ratio, type Verdict } from "./report.ts";
import type { PerNode, ScaleFigures } from "./scale.ts";

/** Issue 7's goals, as numbers, so a change to one is one change here. */
export const CLUSTER_GOALS = {
  /** A new node's agent start to ready member, median over the trials, seconds. */
  joinP50S: 3,
  /** Five nodes started at once to all ready members, seconds. */
  togetherS: 20,
  /** Nodes of the largest cluster that converges and stays healthy on this machine. */
  nodes: 50,
  /** Issue 8: a node's death to its service answering through another node, median, seconds. */
  failoverP50S: 5,
  /** The same, worst trial. */
  failoverMaxS: 8,
  /** Nodes wrongly declared dead per hour with the delay between nodes. */
  falseAlarmsPerHour: 0,
} as const;

/** What the cluster benchmarks measured; a part not run is absent. */
export interface ClusterFigures {
  joins?: JoinFigures;
  scale?: ScaleFigures;
  failover?: FailoverFigures;
}

/** The nearest-rank percentile `p` (0..100) of `values`; 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** The join trials' median and maximum, fossora's and the reference's, in ms. */
export interface JoinSummary {
  p50: number;
  max: number;
  refP50: number;
  refMax: number;
}

/** {@link JoinSummary} of the trials. */
export function joinSummary(j: JoinFigures): JoinSummary {
  const ms = j.trials.map((t) => t.ms);
  const ref = j.trials.map((t) => t.refMs);
  return {
    p50: percentile(ms, 50),
    max: Math.max(...ms),
    refP50: percentile(ref, 50),
    refMax: Math.max(...ref),
  };
}

function s(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function x(r: number): string {
  return r > 0 ? `${r.toFixed(2)}x` : "n/a";
}

function pct(cpu: number): string {
  return `${(cpu * 100).toFixed(1)}%`;
}

/** Each goal of issue 7 against the figures; a part not run has none. */
export function clusterVerdicts(f: ClusterFigures): Verdict[] {
  const out: Verdict[] = [];
  if (f.joins) {
    const j = joinSummary(f.joins);
    out.push({
      goal: `a new node's agent start to ready member, p50 over ${f.joins.trials.length} ` +
        `trials <= ${CLUSTER_GOALS.joinP50S} s`,
      measured: `p50 ${s(j.p50)} (${x(ratio(j.p50, j.refP50))} a bare etcd member), ` +
        `max ${s(j.max)} (${x(ratio(j.max, j.refMax))})`,
      pass: j.p50 <= CLUSTER_GOALS.joinP50S * 1000,
    });
    const t = f.joins.together;
    out.push({
      goal: `${t.nodes} nodes started at once to all ready members <= ${CLUSTER_GOALS.togetherS} s`,
      measured: `${s(t.ms)} (${x(ratio(t.ms, t.refMs))} bare etcd grown to ${t.voters} voters)`,
      pass: t.ms <= CLUSTER_GOALS.togetherS * 1000,
    });
  }
  if (f.scale) {
    const c = f.scale;
    const healthy = c.problems.before.length === 0 && c.problems.after.length === 0;
    out.push({
      goal: `largest cluster (5 voters, the rest workers) that converges and stays healthy ` +
        `>= ${CLUSTER_GOALS.nodes} nodes`,
      measured: `${c.converged} of ${c.target} asked${healthy ? ", healthy" : ", NOT healthy"}` +
        (c.failure ? `; stopped: ${c.failure}` : ""),
      pass: c.converged >= CLUSTER_GOALS.nodes && healthy,
    });
  }
  for (const r of f.failover?.runs ?? []) {
    const { p50, max } = failoverSummary(r);
    const ref = failoverRefSummary(r);
    const link = r.delayMs ? `, +${r.delayMs} ms each way between nodes` : "";
    out.push({
      goal: `node death to its service answering through another node${link}, p50 over ` +
        `${r.trials.length} <= ${CLUSTER_GOALS.failoverP50S} s, max <= ` +
        `${CLUSTER_GOALS.failoverMaxS} s`,
      measured: `p50 ${s(p50)} (${x(ratio(p50, ref.p50))} a docker run), max ${s(max)}`,
      pass: r.trials.length > 0 && p50 <= CLUSTER_GOALS.failoverP50S * 1000 &&
        max <= CLUSTER_GOALS.failoverMaxS * 1000,
    });
    if (r.roll) {
      out.push({
        goal: `requests failed during a rolling update of a ${r.roll.replicas}-replica service = 0`,
        measured: `${r.roll.failed} of ${r.roll.requests} (rolled in ${s(r.roll.ms)})`,
        pass: r.roll.failed === 0,
      });
    }
    if (r.watchS) {
      const alarms = r.notReady + r.leaseLost;
      out.push({
        goal: `false alarms per hour${link} = ${CLUSTER_GOALS.falseAlarmsPerHour}`,
        measured: `${alarms} in ${(r.watchS / 60).toFixed(0)} min ` +
          `(${(alarms * 3600 / r.watchS).toFixed(1)} per hour)`,
        pass: alarms === 0,
      });
    }
  }
  return out;
}

/** A failover run's median and worst time, in ms. */
export function failoverSummary(r: FailoverRun): { p50: number; max: number } {
  const ms = r.trials.map((t) => t.ms);
  return { p50: percentile(ms, 50), max: ms.length ? Math.max(...ms) : 0 };
}

function failoverRefSummary(r: FailoverRun): { p50: number; max: number } {
  return failoverSummary({ ...r, trials: r.trials.map((t) => ({ ...t, ms: t.refMs })) });
}

/** Rows as aligned columns: `align` has one letter a column, l(eft) or r(ight). */
function table(rows: string[][], align: string): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    "  " +
    r.map((c, i) => (align[i] === "r" ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("   ")
      .trimEnd()
  );
}

/** Others' share of the machine above which a figure is called noisy. */
export const BUSY_OTHERS = 0.05;

/** A line on how much others used the machine, with a warning when it was not quiet. */
export function loadLine(what: string, l: Load): string {
  const busy = l.testRuns > 0 || l.others > BUSY_OTHERS;
  return `  ${what}: other processes used ${pct(l.others)} of the machine, ${l.testRuns} other ` +
    `test run(s) seen` + (busy ? "  ! the machine was busy: these figures are noisy" : "");
}

function joinSection(j: JoinFigures): string[] {
  const sum = joinSummary(j);
  const t = j.together;
  const each = Object.entries(t.each).sort((a, b) => a[1] - b[1])
    .map(([n, ms]) => `${n} ${s(ms)} ${t.roles[n] ?? ""}`.trimEnd()).join(", ");
  return [
    "Joining one node at a time (each into the cluster the ones before it made)",
    ...table([
      ["node", "nodes", "role", "fossora", "bare etcd member", "ratio"],
      ...j.trials.map((tr) => [
        tr.node,
        String(tr.size),
        tr.role,
        s(tr.ms),
        s(tr.refMs),
        x(ratio(tr.ms, tr.refMs)),
      ]),
      ["p50", "", "", s(sum.p50), s(sum.refP50), x(ratio(sum.p50, sum.refP50))],
      ["max", "", "", s(sum.max), s(sum.refMax), x(ratio(sum.max, sum.refMax))],
    ], "lrlrrr"),
    "  fossora: from spawning the agent until its health is ready and node1 lists it ready;",
    "  bare etcd member: add as learner, start, promote, healthy (fossora's etcd flags and",
    "  certificates, same hosts); a node joining as a worker starts no etcd at all",
    ...j.trials.filter((tr) => tr.unsettled).map((tr) =>
      `  ! after ${tr.node} the cluster did not settle: ${tr.unsettled}`
    ),
    `${t.nodes} nodes at once into a new cluster: all ready members in ${s(t.ms)}`,
    `  (each, with its role when it was: ${each});`,
    `  bare etcd grown to the same ${t.voters} voters, one member after another: ${s(t.refMs)}, ` +
    `ratio ${x(ratio(t.ms, t.refMs))}`,
    ...(t.unsettled ? [`  ! the cluster did not settle: ${t.unsettled}`] : []),
    loadLine("machine while joining", j.load),
    "",
  ];
}

function idleRow(label: string, p: PerNode, etcd: PerNode, deno: PerNode): string[] {
  return [
    label,
    String(p.count),
    pct(p.cpu),
    pct(p.cpuMax),
    x(ratio(p.cpu, etcd.cpu)),
    mib(p.rss),
    mib(p.rssMax),
    x(ratio(p.rss, etcd.rss)),
    x(ratio(p.rss, deno.rss)),
  ];
}

function scaleSection(c: ScaleFigures): string[] {
  const i = c.idle;
  const growth = c.growth.map((g) => `${g.nodes} in ${(g.ms / 1000).toFixed(1)} s`).join(", ");
  const problems = [
    ...c.problems.before.map((p) => `  ! before the idle window: ${p}`),
    ...c.problems.after.map((p) => `  ! after the idle window: ${p}`),
  ];
  return [
    `Largest cluster: ${c.converged} of ${c.target} nodes converged (${i.voters.count} voters, ` +
    `${i.workers.count} workers), ${c.engines} dockerds (hosts 1-6 their own, the rest share ` +
    "host 6's)" + (problems.length ? "" : "; healthy before and after the idle window"),
    ...(c.failure ? [`  ! growth stopped: ${c.failure}`] : []),
    `  growth, 5 nodes at a time, until each batch was all ready members: ${growth || "none"}`,
    `  idle, per node, over ${i.windowS.toFixed(0)} s (CPU in % of one core; ratios to a bare ` +
    "etcd voter of a 5-member cluster, and to a minimal Deno process for memory):",
    ...table([
      ["", "n", "CPU", "max", "vs etcd", "VmRSS", "max", "vs etcd", "vs Deno"],
      idleRow("voter (agent + its etcd)", i.voters, i.refEtcd, i.minimalDeno),
      idleRow("worker (agent)", i.workers, i.refEtcd, i.minimalDeno),
      [
        "bare etcd voter",
        String(i.refEtcd.count),
        pct(i.refEtcd.cpu),
        pct(i.refEtcd.cpuMax),
        "",
        mib(i.refEtcd.rss),
        mib(i.refEtcd.rssMax),
        "",
        "",
      ],
      [
        "minimal Deno process",
        "1",
        pct(i.minimalDeno.cpu),
        "",
        "",
        mib(i.minimalDeno.rss),
        "",
        "",
        "",
      ],
    ], "lrrrrrrrr"),
    `  the whole cluster idles at ${pct(i.clusterCpu)} of one core (this machine has ` +
    `${navigator.hardwareConcurrency})`,
    ...problems,
    loadLine("machine while growing and idle", c.load),
    "",
  ];
}

function failoverSection(r: FailoverRun): string[] {
  const sum = failoverSummary(r);
  const ref = failoverRefSummary(r);
  const link = r.delayMs ? `${r.delayMs} ms added each way between nodes` : "the bare bridge";
  return [
    `A node dies (3 voters, ${link}): until another node's proxy answers for its service`,
    ...table([
      ["trial", "node", "held", "fossora", "docker run", "ratio"],
      ...r.trials.map((t, i) => [
        String(i + 1),
        t.victim,
        [t.scheduler && "scheduler", t.etcdLeader && "etcd leader"].filter(Boolean).join(", "),
        s(t.ms),
        s(t.refMs),
        x(ratio(t.ms, t.refMs)),
      ]),
      ["p50", "", "", s(sum.p50), s(ref.p50), x(ratio(sum.p50, ref.p50))],
      ["max", "", "", s(sum.max), s(ref.max), x(ratio(sum.max, ref.max))],
    ], "rllrrr"),
    "  fossora: from the power cut (agent and etcd SIGKILLed, containers killed) until a",
    "  surviving node's proxy answers from a replica elsewhere; docker run: the same image",
    "  started by hand on a surviving node until it answers (the floor of any failover)",
    ...(r.roll
      ? [
        `  rolling update of ${r.roll.replicas} replicas under load (a request every 10 ms ` +
        `through a node's proxy): ${r.roll.failed} of ${r.roll.requests} failed, rolled in ` +
        s(r.roll.ms),
      ]
      : []),
    ...(r.watchS
      ? [
        `  watched idle for ${r.watchS} s: a running node left ready ${r.notReady} time(s), ` +
        `agents lost a lease ${r.leaseLost} time(s)`,
      ]
      : []),
    loadLine("machine during the failovers", r.load),
    "",
  ];
}

/** The readable report of the cluster benchmarks that ran. */
export function formatClusterReport(f: ClusterFigures, v = clusterVerdicts(f)): string {
  if (!f.joins && !f.scale && !f.failover) return "";
  const lines = [
    "fossora cluster bench (issues 7 and 8): hosts are network namespaces on one bridge, each ratio is " +
    "fossora's figure over its reference's, measured in the same run on the same hosts",
    "",
    ...(f.joins ? joinSection(f.joins) : []),
    ...(f.scale ? scaleSection(f.scale) : []),
    ...(f.failover?.runs.flatMap(failoverSection) ?? []),
    "Goals (issues 7 and 8; the bench measures, it does not gate)",
    ...table(v.map((x) => [x.pass ? "PASS" : "MISS", x.goal, x.measured]), "lll"),
  ];
  return lines.join("\n") + "\n";
}
