/**
 * The soak: mixed traffic through the agent's proxy for a set time (small requests, 50 MB
 * downloads and uploads, WebSockets that reconnect) while the agent's memory is sampled, to show
 * whether it grows. The table of samples goes into the report as it is.
 * @module
 */
import { cpuSeconds } from "./cpu.ts";
import { runWrk } from "./proxy.ts";
import { readRss, readRssAnon } from "./rss.ts";
import type { WrkResult } from "./tools.ts";
import { measureDownloads, measureUploads, type Target, type Transfer } from "./transfer.ts";
import { measureWebSocket } from "./websocket.ts";
import type { WsResult } from "./ws_load.ts";

/** One reading of the agent during the soak. */
export interface SoakSample {
  /** Seconds since the soak began. */
  t: number;
  rssAnon: number;
  rss: number;
  /** Agent CPU seconds since the previous sample. */
  cpuS: number;
}

/** What the soak's traffic did. */
export interface SoakTraffic {
  requests: WrkResult;
  downloads: Transfer;
  uploads: Transfer;
  websocket: WsResult;
}

/** Everything the soak measured. */
export interface SoakFigures {
  seconds: number;
  intervalS: number;
  samples: SoakSample[];
  traffic: SoakTraffic;
}

/** Sampling interval: every 30 s for long soaks, about ten samples for short ones. */
export function soakInterval(seconds: number): number {
  return Math.min(30, Math.max(1, Math.round(seconds / 10)));
}

/**
 * How much RssAnon grew: the highest reading of the second half less the highest of the first
 * (the reading at 0 s, before the traffic, left out). Peaks against peaks, so where each reading
 * falls in the garbage collector's saw-tooth matters little; a leak raises every peak.
 */
export function soakGrowth(samples: SoakSample[]): number {
  const during = samples.filter((s) => s.t > 0);
  if (during.length < 2) return 0;
  const half = Math.floor(during.length / 2);
  const max = (xs: SoakSample[]) => Math.max(...xs.map((s) => s.rssAnon));
  return max(during.slice(half)) - max(during.slice(0, half));
}

/** Where the soak sends its traffic. */
export interface SoakTargets {
  /** The agent's proxy port. */
  port: number;
  /** Host of the HTTP backend service. */
  host: string;
  /** Host of the WebSocket echo service. */
  wsHost: string;
  bigPath: string;
  uploadPath: string;
  bigBytes: number;
  uploadFile: string;
}

/** Runs the soak's traffic for `seconds`, sampling the agent (pid) every `intervalS`. */
export async function soak(
  pid: number,
  t: SoakTargets,
  seconds: number,
  intervalS = soakInterval(seconds),
): Promise<SoakFigures> {
  const began = Date.now();
  const end = began + seconds * 1000;
  const left = () => (end - Date.now()) / 1000;
  const samples: SoakSample[] = [];
  let lastCpu = await cpuSeconds([pid]);
  const sample = async () => {
    const cpu = await cpuSeconds([pid]);
    samples.push({
      t: Math.round((Date.now() - began) / 1000),
      rssAnon: (await readRssAnon(pid)) ?? 0,
      rss: (await readRss(pid)) ?? 0,
      cpuS: cpu - lastCpu,
    });
    lastCpu = cpu;
  };
  await sample();
  const sampler = (async () => {
    for (let next = began + intervalS * 1000; next <= end + 500; next += intervalS * 1000) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      await sample();
    }
  })();

  const big: Target = { port: t.port, host: t.host, path: t.bigPath };
  const up: Target = { port: t.port, host: t.host, path: t.uploadPath };
  const one = { parallel: 1, minSeconds: 0, maxRounds: 1, warmup: false };
  const downloads: Transfer = { bytes: 0, seconds: 0, transfers: 0, problems: [] };
  const uploads: Transfer = { bytes: 0, seconds: 0, transfers: 0, problems: [] };
  const add = (into: Transfer, r: Transfer) => {
    into.bytes += r.bytes;
    into.seconds += r.seconds;
    into.transfers += r.transfers;
    into.problems.push(...r.problems.slice(0, 5 - into.problems.length));
  };
  // One download then one upload at a time (each a new connection), until the time is up.
  const bulk = (async () => {
    while (left() > 2) {
      add(downloads, await measureDownloads(big, t.bigBytes, one, 60));
      if (left() <= 2) break;
      add(uploads, await measureUploads(up, t.uploadFile, t.bigBytes, one, 60));
    }
  })();
  const [requests, websocket] = await Promise.all([
    // Few connections, so the bulk transfers and WebSockets get their share of the CPU.
    runWrk(t.port, t.host, { durationS: seconds, connections: 4 }),
    measureWebSocket({
      port: t.port,
      host: t.wsHost,
      connections: 4,
      seconds,
      warmup: 0,
      size: 64,
      reconnectEvery: 1000,
    }),
  ]);
  await bulk;
  await sampler;
  return { seconds, intervalS, samples, traffic: { requests, downloads, uploads, websocket } };
}
