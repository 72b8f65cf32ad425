/**
 * How much of the machine other people's work took while a benchmark ran: the machine's busy
 * CPU time (/proc/stat) less the time of this process and everything it started (its live
 * descendants, and those it already reaped, which the kernel adds to its cutime/cstime). The
 * load average cannot tell: it counts the benchmark's own 50 agents. Also counts the
 * `deno test` runs seen, by name, at the start and at the end.
 * @module
 */
import { clockTicks } from "./cpu.ts";

/** What others did to the machine during a benchmark. */
export interface Load {
  /** CPU others used, as a fraction of the whole machine (1 = every core busy). */
  others: number;
  /** Most `deno test` processes seen at once (other people's test suites). */
  testRuns: number;
}

/** Busy ticks of the whole machine from /proc/stat's `cpu` line (everything but idle/iowait). */
export function parseBusyTicks(procStat: string): number {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  const f = line?.trim().split(/\s+/).slice(1).map(Number);
  if (!f || f.length < 8 || f.some((n) => !Number.isFinite(n))) {
    throw new Error(`not /proc/stat text: "${procStat.slice(0, 80)}"`);
  }
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  const [user, nice, system, , , irq, softirq, steal] = f;
  return user + nice + system + irq + softirq + steal;
}

/** ppid and own plus reaped children's CPU ticks, from a /proc/PID/stat line. */
export function parseTreeTicks(stat: string): { ppid: number; ticks: number } {
  const end = stat.lastIndexOf(")");
  // After the name: state, ppid (field 4) ... utime (14), stime, cutime, cstime (17).
  const f = stat.slice(end + 2).trim().split(/\s+/).map(Number);
  if (end < 0 || f.length < 15 || [f[1], f[11], f[12], f[13], f[14]].some(isNaN)) {
    throw new Error(`not a /proc/PID/stat line: "${stat.slice(0, 80)}"`);
  }
  return { ppid: f[1], ticks: f[11] + f[12] + f[13] + f[14] };
}

/** Ticks of `root` and all its live descendants, each with what it reaped. */
async function treeTicks(root: number): Promise<number> {
  const procs: { pid: number; ppid: number; ticks: number }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const text = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    if (text) procs.push({ pid: Number(e.name), ...parseTreeTicks(text) });
  }
  const ours = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!ours.has(p.pid) && ours.has(p.ppid)) {
        ours.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => ours.has(p.pid)).reduce((s, p) => s + p.ticks, 0);
}

/** `deno test` processes running now. */
async function testRuns(): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const argv = (await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "")).split("\0");
    if (/(^|\/)deno$/.test(argv[0]) && argv[1] === "test") n++;
  }
  return n;
}

/** Watches others' CPU use from {@link LoadWatch.start} to {@link LoadWatch.stop}. */
export class LoadWatch {
  private constructor(
    readonly at: number,
    readonly busy: number,
    readonly ours: number,
    readonly runs: number,
  ) {}

  static async start(): Promise<LoadWatch> {
    const busy = parseBusyTicks(await Deno.readTextFile("/proc/stat"));
    return new LoadWatch(performance.now(), busy, await treeTicks(Deno.pid), await testRuns());
  }

  /** Others' share of the machine since the start; a reaped grandchild of another is missed. */
  async stop(): Promise<Load> {
    const busy = parseBusyTicks(await Deno.readTextFile("/proc/stat")) - this.busy;
    const ours = (await treeTicks(Deno.pid)) - this.ours;
    const seconds = (performance.now() - this.at) / 1000;
    const capacity = seconds * (await clockTicks()) * navigator.hardwareConcurrency;
    return {
      others: capacity > 0 ? Math.max(0, busy - ours) / capacity : 0,
      testRuns: Math.max(this.runs, await testRuns()),
    };
  }
}
