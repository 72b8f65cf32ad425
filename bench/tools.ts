/**
 * Reading what the load tools and the kernel print: `wrk --latency`, `dnsperf`, `docker port`
 * and `/proc/PID/status`. Pure functions, so the parsing is tested on sample outputs.
 * @module
 */

/** One `wrk --latency` run. */
export interface WrkResult {
  requestsPerSec: number;
  /** Total requests completed. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status outside 2xx/3xx. */
  non2xx: number;
  /** connect + read + write + timeout socket errors. */
  socketErrors: number;
}

/** One `dnsperf` run. */
export interface DnsperfResult {
  queriesPerSec: number;
  sent: number;
  completed: number;
  lost: number;
  /** Completed queries whose answer was not NOERROR. */
  errors: number;
  avgLatencyMs: number;
}

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A wrk duration such as `635.91us`, `1.20ms` or `2.00s`, in milliseconds. */
export function parseDuration(text: string): number {
  const m = text.trim().match(/^([\d.]+)(us|ms|s|m|h)$/);
  if (!m) throw new Error(`not a wrk duration: "${text}"`);
  return Number(m[1]) * TIME_UNITS[m[2]];
}

function field(text: string, re: RegExp, what: string, tool: string): string {
  const m = text.match(re);
  if (!m) throw new Error(`${tool} output has no ${what}; was it run as expected?\n${text}`);
  return m[1];
}

/** Parses the report `wrk --latency` prints; fails if a figure the bench needs is missing. */
export function parseWrk(text: string): WrkResult {
  const sock = text.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  return {
    requestsPerSec: Number(field(text, /Requests\/sec:\s+([\d.]+)/, "Requests/sec", "wrk")),
    requests: Number(field(text, /(\d+) requests in /, "request count", "wrk")),
    p50Ms: parseDuration(field(text, /^\s*50%\s+(\S+)/m, "50% latency (use --latency)", "wrk")),
    p99Ms: parseDuration(field(text, /^\s*99%\s+(\S+)/m, "99% latency (use --latency)", "wrk")),
    non2xx: Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0),
    socketErrors: sock ? sock.slice(1).reduce((n, s) => n + Number(s), 0) : 0,
  };
}

/** Parses dnsperf's closing statistics. */
export function parseDnsperf(text: string): DnsperfResult {
  const tool = "dnsperf";
  const completed = Number(field(text, /Queries completed:\s+(\d+)/, "completed count", tool));
  const noerror = Number(text.match(/Response codes:.*?NOERROR (\d+)/)?.[1] ?? 0);
  return {
    queriesPerSec: Number(field(text, /Queries per second:\s+([\d.]+)/, "queries/s", tool)),
    sent: Number(field(text, /Queries sent:\s+(\d+)/, "sent count", tool)),
    completed,
    lost: Number(field(text, /Queries lost:\s+(\d+)/, "lost count", tool)),
    errors: completed - noerror,
    avgLatencyMs: Number(field(text, /Average Latency \(s\):\s+([\d.]+)/, "latency", tool)) * 1000,
  };
}

/** The resident set size in bytes from the text of `/proc/PID/status`. */
export function parseVmRss(status: string): number {
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
  if (!m) throw new Error("no VmRSS line: is this /proc/PID/status of a live process?");
  return Number(m[1]) * 1024;
}

/**
 * RssAnon from /proc/PID/status, in bytes: the private part of the resident set. The rest of
 * VmRSS is file pages (mostly the deno executable's code), shared and reclaimable by the kernel.
 */
export function parseRssAnon(status: string): number {
  const m = status.match(/^RssAnon:\s+(\d+)\s+kB/m);
  if (!m) throw new Error("no RssAnon line: is this /proc/PID/status of a live process?");
  return Number(m[1]) * 1024;
}

/** The host port from `docker port CONTAINER PORT` (first binding, IPv4 or IPv6). */
export function parseDockerPort(text: string): number {
  const m = text.match(/:(\d+)\s*$/m);
  const port = Number(m?.[1]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`docker port printed no host port: "${text.trim()}"`);
  }
  return port;
}
