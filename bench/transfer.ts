/**
 * The bulk figures: concurrent 50 MB downloads and one 50 MB upload with curl, through a proxy,
 * in MB/s (10^6 bytes a second). Each curl reports its own status, byte count and time, so a
 * transfer that stopped short or failed is named instead of counted.
 * @module
 */
import { run } from "./exec.ts";
import { parseUploadAnswer } from "./images.ts";

/** What one curl transfer reported. */
export interface CurlResult {
  status: number;
  /** Bytes received (download) or sent (upload). */
  bytes: number;
  seconds: number;
}

/** The bytes moved by a series of rounds of transfers and the time they took. */
export interface Transfer {
  bytes: number;
  seconds: number;
  /** Transfers that completed as expected. */
  transfers: number;
  /** What went wrong, one line each (a failed transfer's bytes are not counted). */
  problems: string[];
}

/** MB/s of a transfer figure (10^6 bytes a second); 0 when nothing was timed. */
export function mbPerSec(t: Transfer): number {
  return t.seconds > 0 ? t.bytes / t.seconds / 1e6 : 0;
}

/** What curl prints with {@link WRITE_OUT}: status, bytes, seconds. */
const WRITE_OUT = "\\n%{http_code} %{size_download} %{size_upload} %{time_total}\\n";

/** Reads the last line curl printed with {@link WRITE_OUT}; the body (if any) comes before it. */
export function parseCurl(text: string, upload: boolean): CurlResult & { body: string } {
  const lines = text.replace(/\n+$/, "").split("\n");
  const m = lines.at(-1)?.match(/^(\d{3}) (\d+) (\d+) ([\d.]+)$/);
  if (!m) throw new Error(`curl printed no transfer summary: "${text.slice(-200)}"`);
  return {
    status: Number(m[1]),
    bytes: Number(upload ? m[3] : m[2]),
    seconds: Number(m[4]),
    body: lines.slice(0, -1).join("\n"),
  };
}

/** Where a transfer goes. */
export interface Target {
  port: number;
  host: string;
  path: string;
}

/** curl arguments for one download of `target` to /dev/null. */
export function downloadArgs(t: Target, maxSeconds: number): string[] {
  return [
    "-sS",
    "-o",
    "/dev/null",
    "-H",
    `Host: ${t.host}`,
    "--max-time",
    String(maxSeconds),
    "-w",
    WRITE_OUT,
    `http://127.0.0.1:${t.port}${t.path}`,
  ];
}

/**
 * curl arguments for one POST of `file`. `Expect:` is sent empty: curl otherwise asks for
 * 100 Continue on a large body and, if the answer is slow, waits a second before sending anyway,
 * which would time the wait instead of the transfer.
 */
export function uploadArgs(t: Target, file: string, maxSeconds: number): string[] {
  return [
    "-sS",
    "-H",
    `Host: ${t.host}`,
    "-H",
    "Expect:",
    "-H",
    "Content-Type: application/octet-stream",
    "--data-binary",
    `@${file}`,
    "--max-time",
    String(maxSeconds),
    "-w",
    WRITE_OUT,
    `http://127.0.0.1:${t.port}${t.path}`,
  ];
}

/**
 * Adds one round's curl results to `into`. A round is timed by its slowest transfer (they start
 * together); a transfer with a bad status or short count spoils the round, which is not counted.
 */
export function addRound(
  into: Transfer,
  results: (CurlResult | Error)[],
  expectBytes: number,
  what: string,
): void {
  const bad: string[] = [];
  for (const r of results) {
    if (r instanceof Error) bad.push(`${what} failed: ${r.message}`);
    else if (r.status !== 200) bad.push(`${what} answered ${r.status}`);
    else if (r.bytes !== expectBytes) bad.push(`${what} moved ${r.bytes} of ${expectBytes} bytes`);
  }
  if (bad.length) {
    into.problems.push(...bad);
    return;
  }
  const ok = results as CurlResult[];
  into.bytes += ok.reduce((n, r) => n + r.bytes, 0);
  into.seconds += Math.max(...ok.map((r) => r.seconds));
  into.transfers += ok.length;
}

/** How a transfer figure is measured. */
export interface TransferLoad {
  /** Transfers that run at once in each round. */
  parallel: number;
  /** Rounds are repeated until this much time was measured (at least one round). */
  minSeconds: number;
  /** Rounds at most, so a very slow proxy cannot hold the bench. */
  maxRounds: number;
  /** One transfer first that is not counted (default true). */
  warmup?: boolean;
}

async function curl(args: string[], upload: boolean, maxSeconds: number) {
  const r = await run("curl", args, (maxSeconds + 5) * 1000);
  if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr.trim()}`);
  return parseCurl(r.stdout, upload);
}

/**
 * One warm-up transfer (not counted), then rounds of `load.parallel` transfers at once until
 * `load.minSeconds` were measured; stops at the first spoiled round.
 */
async function rounds(
  once: () => Promise<CurlResult | Error>,
  bytes: number,
  load: TransferLoad,
  what: string,
): Promise<Transfer> {
  const out: Transfer = { bytes: 0, seconds: 0, transfers: 0, problems: [] };
  const warm: Transfer = { bytes: 0, seconds: 0, transfers: 0, problems: out.problems };
  if (load.warmup !== false) addRound(warm, [await once()], bytes, `warm-up ${what}`);
  for (let i = 0; i < load.maxRounds && (i === 0 || out.seconds < load.minSeconds); i++) {
    if (out.problems.length) break;
    addRound(out, await Promise.all(Array.from({ length: load.parallel }, once)), bytes, what);
  }
  return out;
}

/** Downloads of `t` that must each bring `bytes`, `load.parallel` at once. */
export function measureDownloads(
  t: Target,
  bytes: number,
  load: TransferLoad,
  maxSeconds = 60,
): Promise<Transfer> {
  const once = () => curl(downloadArgs(t, maxSeconds), false, maxSeconds).catch((e: Error) => e);
  return rounds(once, bytes, load, "download");
}

/**
 * Uploads of `file` (`bytes` long) to `t`. The backend answers with the bytes it read, so an
 * upload the proxy cut short is caught even when curl sent everything.
 */
export function measureUploads(
  t: Target,
  file: string,
  bytes: number,
  load: TransferLoad,
  maxSeconds = 60,
): Promise<Transfer> {
  const once = async (): Promise<CurlResult | Error> => {
    try {
      const r = await curl(uploadArgs(t, file, maxSeconds), true, maxSeconds);
      const read = parseUploadAnswer(r.body);
      if (r.status === 200 && (read === undefined || read < bytes)) {
        return new Error(`the backend read ${read ?? "?"} of ${bytes} bytes (${r.body.trim()})`);
      }
      return r;
    } catch (e) {
      return e as Error;
    }
  };
  return rounds(once, bytes, load, "upload");
}
