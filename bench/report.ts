/**
 * Turning the measured figures into goals met or missed and a readable report. Pure, so the
 * verdicts and the layout are tested without running any load.
 * @module
 */
import type { DnsperfResult, WrkResult } from "./tools.ts";

/** Everything one bench run measured. */
export interface Figures {
  proxy: {
    fossora: WrkResult;
    nginx: WrkResult;
    /** wrk straight at the replica's published port: the backend's own ceiling. */
    direct: WrkResult;
    connections: number;
    durationS: number;
  };
  dns: {
    fossora: DnsperfResult;
    dnsmasq: DnsperfResult;
    clients: number;
    durationS: number;
  };
  rss: {
    agentIdle: number;
    /** RssAnon at the idle reading: memory that is the agent's alone. */
    agentIdlePrivate?: number;
    agentPeak: number;
    etcdIdle?: number;
    etcdPeak?: number;
    samples: number;
  };
}

/** One goal's verdict. */
export interface Verdict {
  goal: string;
  measured: string;
  pass: boolean;
}

/** The goals, as numbers, so a change to one is a change in one place. */
export const GOALS = {
  proxyRatio: 0.6,
  dnsRatio: 0.5,
  idleMiB: 80,
  peakMiB: 150,
} as const;

const MIB = 1024 * 1024;

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

/** a / b, 0 when b is 0 (a reference that did nothing makes no ratio). */
export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

/** Why a run's figure cannot be trusted as-is, if any. */
export function wrkProblems(r: WrkResult): string[] {
  const out: string[] = [];
  if (r.non2xx > 0) out.push(`${r.non2xx} non-2xx/3xx responses`);
  if (r.socketErrors > 0) out.push(`${r.socketErrors} socket errors`);
  return out;
}

/** Why a dnsperf figure cannot be trusted as-is, if any. */
export function dnsProblems(r: DnsperfResult): string[] {
  const out: string[] = [];
  if (r.lost > 0) out.push(`${r.lost} queries lost`);
  if (r.errors > 0) out.push(`${r.errors} answers not NOERROR`);
  return out;
}

/** Each goal against the figures. A throughput run with errors does not meet its goal. */
export function verdicts(f: Figures): Verdict[] {
  const proxy = ratio(f.proxy.fossora.requestsPerSec, f.proxy.nginx.requestsPerSec);
  const dns = ratio(f.dns.fossora.queriesPerSec, f.dns.dnsmasq.queriesPerSec);
  return [
    {
      goal: `proxy >= ${GOALS.proxyRatio}x nginx`,
      measured: `${proxy.toFixed(2)}x`,
      pass: proxy >= GOALS.proxyRatio && wrkProblems(f.proxy.fossora).length === 0,
    },
    {
      goal: `DNS >= ${GOALS.dnsRatio}x dnsmasq`,
      measured: `${dns.toFixed(2)}x`,
      pass: dns >= GOALS.dnsRatio && dnsProblems(f.dns.fossora).length === 0,
    },
    {
      goal: `agent idle <= ${GOALS.idleMiB} MiB`,
      measured: mib(f.rss.agentIdle),
      pass: f.rss.agentIdle <= GOALS.idleMiB * MIB,
    },
    {
      goal: `agent under load <= ${GOALS.peakMiB} MiB`,
      measured: mib(f.rss.agentPeak),
      pass: f.rss.agentPeak <= GOALS.peakMiB * MIB,
    },
  ];
}

function num(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function ms(n: number): string {
  return `${n.toFixed(2)} ms`;
}

/** Columns before `rightFrom` are left-aligned, the rest (the numbers) right-aligned. */
function table(rows: string[][], rightFrom = 1): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    "  " +
    r.map((c, i) => (i < rightFrom ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("   ")
      .trimEnd()
  );
}

function problemsLine(name: string, problems: string[]): string[] {
  return problems.length ? [`  ! ${name}: ${problems.join(", ")}`] : [];
}

/** The readable report: the figures, their ratios, and PASS/MISS per goal. */
export function formatReport(f: Figures, v: Verdict[] = verdicts(f)): string {
  const p = f.proxy;
  const d = f.dns;
  const lines = [
    `fossora bench (ratios against references measured in the same run)`,
    ``,
    `Proxy (wrk -t1 -c${p.connections} -d${p.durationS}s, same backend replica)`,
    ...table([
      ["", "req/s", "p50", "p99"],
      ["fossora proxy", num(p.fossora.requestsPerSec), ms(p.fossora.p50Ms), ms(p.fossora.p99Ms)],
      ["nginx proxy", num(p.nginx.requestsPerSec), ms(p.nginx.p50Ms), ms(p.nginx.p99Ms)],
      ["backend direct", num(p.direct.requestsPerSec), ms(p.direct.p50Ms), ms(p.direct.p99Ms)],
    ]),
    `  ratio fossora/nginx: ${
      ratio(p.fossora.requestsPerSec, p.nginx.requestsPerSec).toFixed(2)
    }x req/s`,
    ...problemsLine("fossora proxy", wrkProblems(p.fossora)),
    ...problemsLine("nginx proxy", wrkProblems(p.nginx)),
    ...problemsLine("backend direct", wrkProblems(p.direct)),
    ``,
    `DNS (dnsperf -c${d.clients} -l${d.durationS}, one A query)`,
    ...table([
      ["", "queries/s", "avg latency", "lost"],
      [
        "fossora DNS",
        num(d.fossora.queriesPerSec),
        ms(d.fossora.avgLatencyMs),
        num(d.fossora.lost),
      ],
      ["dnsmasq", num(d.dnsmasq.queriesPerSec), ms(d.dnsmasq.avgLatencyMs), num(d.dnsmasq.lost)],
    ]),
    `  ratio fossora/dnsmasq: ${
      ratio(d.fossora.queriesPerSec, d.dnsmasq.queriesPerSec).toFixed(2)
    }x queries/s`,
    ...problemsLine("fossora DNS", dnsProblems(d.fossora)),
    ...problemsLine("dnsmasq", dnsProblems(d.dnsmasq)),
    ``,
    `Memory (VmRSS; etcd is the agent's child, not counted in the agent)`,
    `  agent idle: ${mib(f.rss.agentIdle)}   agent peak under load: ${mib(f.rss.agentPeak)} ` +
    `(${f.rss.samples} samples, every 100 ms)`,
    ...(f.rss.agentIdlePrivate === undefined ? [] : [
      `  agent idle, private (RssAnon): ${mib(f.rss.agentIdlePrivate)}; the rest of VmRSS is ` +
      "file pages of the deno executable, shared and reclaimable",
    ]),
    `  etcd idle: ${f.rss.etcdIdle === undefined ? "n/a" : mib(f.rss.etcdIdle)}   ` +
    `etcd peak: ${f.rss.etcdPeak === undefined ? "n/a" : mib(f.rss.etcdPeak)}`,
    ``,
    `Goals`,
    ...table(v.map((x) => [x.pass ? "PASS" : "MISS", x.goal, x.measured]), 2),
  ];
  return lines.join("\n") + "\n";
}
