import assert from "node:assert/strict";
import {
  CLUSTER_GOALS,
  type ClusterFigures,
  clusterVerdicts,
  formatClusterReport,
  joinSummary,
  percentile,
} from "./cluster_report.ts";
import type { FailoverRun } from "./failover.ts";
import type { JoinFigures } from "./join.ts";
import type { PerNode, ScaleFigures } from "./scale.ts";

const MIB = 1024 * 1024;
const QUIET = { others: 0.01, testRuns: 0 };

function joins(ms: number[], refMs: number[], togetherMs = 12_000): JoinFigures {
  return {
    trials: ms.map((m, i) => ({
      node: `node${i + 2}`,
      size: i + 2,
      ms: m,
      role: i % 2 ? "voter" : "worker",
      refMs: refMs[i],
    })),
    together: {
      nodes: 5,
      ms: togetherMs,
      each: { node3: togetherMs, node2: 3000 },
      roles: { node2: "worker", node3: "voter" },
      voters: 5,
      refMs: 6000,
    },
    load: QUIET,
  };
}

function per(count: number, cpu: number, rssMiB: number): PerNode {
  return { count, cpu, cpuMax: cpu * 1.5, rss: rssMiB * MIB, rssMax: rssMiB * 1.1 * MIB };
}

function scale(over: Partial<ScaleFigures> = {}): ScaleFigures {
  return {
    target: 50,
    converged: 50,
    growth: [{ nodes: 6, ms: 20_000 }, { nodes: 11, ms: 15_000 }],
    engines: 6,
    problems: { before: [], after: [] },
    idle: {
      windowS: 30,
      voters: per(5, 0.07, 180),
      workers: per(45, 0.02, 100),
      refEtcd: per(5, 0.025, 60),
      minimalDeno: per(1, 0.0003, 34),
      clusterCpu: 1.25,
    },
    load: QUIET,
    ...over,
  };
}

Deno.test("percentile: nearest rank, so the p50 of five is the third", () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(percentile([1, 2, 3, 4], 50), 2);
  assert.equal(percentile([7], 50), 7);
  assert.equal(percentile([3, 9, 1], 100), 9);
  assert.equal(percentile([], 50), 0);
});

Deno.test("join summary: median and maximum of fossora and of the reference, each its own", () => {
  const s = joinSummary(joins([1800, 2500, 2100, 4000, 2300], [400, 2000, 500, 900, 600]));
  assert.deepEqual(s, { p50: 2300, max: 4000, refP50: 600, refMax: 2000 });
});

Deno.test("the goals of issue 7 pass at their bounds and miss just past them", () => {
  const at = (p50: number, together: number, converged: number): boolean[] =>
    clusterVerdicts({
      joins: joins([p50, p50, p50], [500, 500, 500], together),
      scale: scale({ converged }),
    }).map((v) => v.pass);
  const { joinP50S, togetherS, nodes } = CLUSTER_GOALS;
  assert.deepEqual(at(joinP50S * 1000, togetherS * 1000, nodes), [true, true, true]);
  assert.deepEqual(at(joinP50S * 1000 + 1, togetherS * 1000 + 1, nodes - 1), [
    false,
    false,
    false,
  ]);
});

Deno.test("a cluster that converged but was not healthy after the idle window misses", () => {
  const [v] = clusterVerdicts({
    scale: scale({ problems: { before: [], after: ["node7 is not ready"] } }),
  });
  assert.equal(v.pass, false);
  assert.match(v.measured, /50 of 50 asked, NOT healthy/);
});

Deno.test("a growth that stopped early reports the size reached and why", () => {
  const f: ClusterFigures = {
    scale: scale({ converged: 35, failure: "growing to 40 nodes: node37 not ready" }),
  };
  const [v] = clusterVerdicts(f);
  assert.equal(v.pass, false);
  assert.match(v.measured, /35 of 50 asked, healthy; stopped: growing to 40 nodes/);
  assert.match(formatClusterReport(f), /! growth stopped: growing to 40 nodes: node37 not ready/);
});

Deno.test("the report shows each figure with its reference and ratio, and warns of a busy machine", () => {
  const quiet = formatClusterReport({
    joins: joins([2000, 3000, 1000], [500, 1000, 250]),
    scale: scale(),
  });
  assert.match(quiet, /node2\s+2\s+worker\s+2\.00 s\s+0\.50 s\s+4\.00x/);
  assert.match(quiet, /p50\s+2\.00 s\s+0\.50 s\s+4\.00x/);
  assert.match(quiet, /max\s+3\.00 s\s+1\.00 s\s+3\.00x/);
  assert.match(
    quiet,
    /all ready members in 12\.00 s\n {2}\(each, with its role when it was: node2 3\.00 s worker, node3 12\.00 s voter\);/,
  );
  assert.match(quiet, /same 5 voters, one member after another: 6\.00 s, ratio 2\.00x/);
  // 7% against 2.5%; 180 MiB against 60 MiB (etcd) and 34 MiB (Deno).
  assert.match(quiet, /voter \(agent \+ its etcd\)\s+5\s+7\.0%\s+10\.5%\s+2\.80x\s+180\.0 MiB/);
  assert.match(quiet, /180\.0 MiB\s+198\.0 MiB\s+3\.00x\s+5\.29x/);
  assert.match(quiet, /worker \(agent\)\s+45\s+2\.0%/);
  assert.match(quiet, /the whole cluster idles at 125\.0% of one core/);
  assert.match(quiet, /healthy before and after the idle window/);
  assert.doesNotMatch(quiet, /noisy/);
  assert.match(quiet, /PASS\s+a new node's agent start to ready member, p50 over 3 trials/);

  assert.match(quiet, /other processes used 1\.0% of the machine, 0 other test run\(s\) seen$/m);
  const busy = formatClusterReport({ scale: scale({ load: { others: 0.3, testRuns: 0 } }) });
  assert.match(
    busy,
    /used 30\.0% of the machine, 0 other test run\(s\) seen\s+! the machine was busy/,
  );
  const tests = formatClusterReport({ scale: scale({ load: { others: 0, testRuns: 1 } }) });
  assert.match(tests, /1 other test run\(s\) seen\s+! the machine was busy/);
  assert.doesNotMatch(busy, /Joining/);
  assert.equal(formatClusterReport({}), "");
});

function failoverRun(ms: number[], over: Partial<FailoverRun> = {}): FailoverRun {
  return {
    delayMs: 0,
    trials: ms.map((m, i) => ({
      victim: `node${(i % 3) + 1}`,
      scheduler: i === 0,
      etcdLeader: i === 1,
      ms: m,
      refMs: 1000,
    })),
    watchS: 0,
    notReady: 0,
    leaseLost: 0,
    load: QUIET,
    ...over,
  };
}

Deno.test("the failover goals of issue 8 pass at their bounds and miss just past them", () => {
  const { failoverP50S, failoverMaxS } = CLUSTER_GOALS;
  const pass = (ms: number[]) =>
    clusterVerdicts({ failover: { runs: [failoverRun(ms)] } }).map((v) => v.pass);
  assert.deepEqual(pass([1000, failoverP50S * 1000, failoverMaxS * 1000]), [true]);
  assert.deepEqual(pass([1000, failoverP50S * 1000 + 1, failoverMaxS * 1000]), [false]);
  assert.deepEqual(pass([1000, 2000, failoverMaxS * 1000 + 1]), [false]);
  assert.deepEqual(pass([]), [false]);
  const watched = (notReady: number, leaseLost: number) =>
    clusterVerdicts({
      failover: { runs: [failoverRun([3000], { delayMs: 100, watchS: 600, notReady, leaseLost })] },
    });
  const [, quiet] = watched(0, 0);
  assert.equal(quiet.pass, true);
  assert.match(quiet.goal, /false alarms per hour, \+100 ms each way between nodes = 0/);
  const [, alarm] = watched(1, 1);
  assert.equal(alarm.pass, false);
  assert.match(alarm.measured, /2 in 10 min \(12\.0 per hour\)/);
});

Deno.test("the failover report lists each death with what the node held, and its reference", () => {
  const text = formatClusterReport({
    failover: {
      runs: [failoverRun([4000, 6000, 3000]), failoverRun([5000], { delayMs: 100, watchS: 600 })],
    },
  });
  assert.match(text, /A node dies \(3 voters, the bare bridge\)/);
  assert.match(text, /1\s+node1\s+scheduler\s+4\.00 s\s+1\.00 s\s+4\.00x/);
  assert.match(text, /2\s+node2\s+etcd leader\s+6\.00 s/);
  assert.match(text, /p50\s+4\.00 s\s+1\.00 s\s+4\.00x/);
  assert.match(text, /max\s+6\.00 s/);
  assert.match(text, /A node dies \(3 voters, 100 ms added each way between nodes\)/);
  assert.match(text, /watched idle for 600 s: a running node left ready 0 time\(s\)/);
  const rolled = formatClusterReport({
    failover: {
      runs: [failoverRun([3000], { roll: { replicas: 3, requests: 900, failed: 2, ms: 30_000 } })],
    },
  });
  assert.match(
    rolled,
    /rolling update of 3 replicas under load .*: 2 of 900 failed, rolled in 30\.00 s/,
  );
  assert.match(rolled, /MISS\s+requests failed during a rolling update of a 3-replica service = 0/);
  assert.match(text, /PASS\s+node death to its service answering through another node, p50/);
});
