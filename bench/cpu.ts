/**
 * CPU time of processes from /proc/PID/stat: the agent's (one process; etcd is a separate child
 * whose time is not in the agent's) and nginx's (master and workers), read before and after a
 * load run, so each proxy's cost per request can be set side by side.
 * @module
 */
import { runOk } from "./exec.ts";

/** The fields of /proc/PID/stat the bench uses. */
export interface ProcStat {
  ppid: number;
  /** User plus system time, in clock ticks. */
  ticks: number;
}

/**
 * Parses /proc/PID/stat. The command name (field 2) may hold spaces and parentheses, so the
 * fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const end = text.lastIndexOf(")");
  if (end < 0) throw new Error(`not a /proc/PID/stat line: "${text.slice(0, 80)}"`);
  // After the name: state (field 3), ppid (4), ..., utime (14), stime (15).
  const f = text.slice(end + 2).trim().split(/\s+/);
  const ppid = Number(f[1]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (![ppid, utime, stime].every(Number.isInteger)) {
    throw new Error(`not a /proc/PID/stat line: "${text.slice(0, 80)}"`);
  }
  return { ppid, ticks: utime + stime };
}

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (USER_HZ), from `getconf CLK_TCK`. */
export async function clockTicks(): Promise<number> {
  ticksPerSecond ??= Number((await runOk("getconf", ["CLK_TCK"], 5_000)).trim()) || 100;
  return ticksPerSecond;
}

/** The stat of a live process, or undefined once it has exited. */
export async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

/** The process ids whose parent is `ppid` (nginx's workers under its master). */
export async function childPids(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const st = await readStat(Number(e.name));
    if (st?.ppid === ppid) out.push(Number(e.name));
  }
  return out.sort((a, b) => a - b);
}

/** User plus system CPU seconds used so far by the processes (those still alive). */
export async function cpuSeconds(pids: number[]): Promise<number> {
  const hz = await clockTicks();
  let ticks = 0;
  for (const pid of pids) ticks += (await readStat(pid))?.ticks ?? 0;
  return ticks / hz;
}

/** CPU a proxy spent on a load run, and the requests it served. */
export interface CpuUse {
  seconds: number;
  requests: number;
}

/** CPU seconds per 10,000 requests; 0 when no request was served. */
export function perTenThousand(c: CpuUse): number {
  return c.requests > 0 ? (c.seconds / c.requests) * 10_000 : 0;
}

/** Runs `load` and returns the CPU the processes spent meanwhile with the requests it reports. */
export async function measureCpu<T extends { requests: number }>(
  pids: () => Promise<number[]>,
  load: () => Promise<T>,
): Promise<{ result: T; cpu: CpuUse }> {
  const ids = await pids();
  const before = await cpuSeconds(ids);
  const result = await load();
  const seconds = (await cpuSeconds(ids)) - before;
  return { result, cpu: { seconds, requests: result.requests } };
}
