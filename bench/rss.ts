/**
 * The memory figures: the agent's resident set (VmRSS, from /proc) and its private part (RssAnon,
 * what it really costs a small machine) when idle, at its peak under load, and settled after.
 * etcd is the agent's child but a separate process, so it is read on its own and never added in.
 * @module
 */
import { parseRssAnon, parseVmRss } from "./tools.ts";

/** VmRSS of a live process in bytes, or undefined once it has exited. */
export async function readRss(pid: number): Promise<number | undefined> {
  try {
    return parseVmRss(await Deno.readTextFile(`/proc/${pid}/status`));
  } catch {
    return undefined;
  }
}

/** RssAnon (private resident memory) of a live process in bytes, or undefined once it exited. */
export async function readRssAnon(pid: number): Promise<number | undefined> {
  try {
    return parseRssAnon(await Deno.readTextFile(`/proc/${pid}/status`));
  } catch {
    return undefined;
  }
}

/**
 * Whether the samples (oldest first) taken over the last window stayed within `toleranceBytes`
 * of each other, i.e. start-up and deploy no longer move the resident set.
 */
export function isSettled(samples: number[], toleranceBytes: number): boolean {
  if (samples.length < 2) return false;
  return Math.max(...samples) - Math.min(...samples) <= toleranceBytes;
}

/** How to wait for a settled resident set. */
export interface SettleOptions {
  /** The window that must stay flat, ms; default 3000. */
  windowMs?: number;
  /** Allowed spread within the window, bytes; default 2 MiB. */
  toleranceBytes?: number;
  /** Give up waiting (and report the last reading) after this, ms; default 20000. */
  timeoutMs?: number;
  intervalMs?: number;
  /** What is read; default VmRSS ({@link readRss}). */
  read?: (pid: number) => Promise<number | undefined>;
}

/** The idle reading: samples until the last window is flat (or time is up), returns the last. */
export async function settledRss(pid: number, o: SettleOptions = {}): Promise<number> {
  const read = o.read ?? readRss;
  const windowMs = o.windowMs ?? 3000;
  const intervalMs = o.intervalMs ?? 100;
  const perWindow = Math.max(2, Math.round(windowMs / intervalMs));
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  const samples: number[] = [];
  while (true) {
    const rss = await read(pid);
    if (rss === undefined) throw new Error(`process ${pid} exited while measuring its memory`);
    samples.push(rss);
    const recent = samples.slice(-perWindow);
    const full = recent.length === perWindow;
    if ((full && isSettled(recent, o.toleranceBytes ?? 2 * 1024 * 1024)) || Date.now() > deadline) {
      return rss;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Samples a set of processes every interval and keeps each one's peaks until stopped. */
export class PeakSampler {
  readonly #pids: Record<string, number>;
  readonly #peaks: Record<string, number> = {};
  readonly #privatePeaks: Record<string, number> = {};
  readonly #timer: ReturnType<typeof setInterval>;
  #count = 0;

  /** Starts sampling `pids` (name -> pid) at once and then every `intervalMs`. */
  constructor(pids: Record<string, number>, intervalMs = 100) {
    this.#pids = pids;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    for (const [name, pid] of Object.entries(this.#pids)) {
      // A synchronous read keeps samples from piling up when the bench's own loop is busy.
      let rss: number, anon: number;
      try {
        const status = Deno.readTextFileSync(`/proc/${pid}/status`);
        rss = parseVmRss(status);
        anon = parseRssAnon(status);
      } catch {
        continue;
      }
      this.#peaks[name] = Math.max(this.#peaks[name] ?? 0, rss);
      this.#privatePeaks[name] = Math.max(this.#privatePeaks[name] ?? 0, anon);
    }
    this.#count++;
  }

  /**
   * Stops sampling and returns each process's peak VmRSS and peak RssAnon in bytes (absent if
   * never read). Stopping twice is harmless.
   */
  stop(): {
    peaks: Record<string, number>;
    privatePeaks: Record<string, number>;
    samples: number;
  } {
    if (!this.#stopped) {
      this.#stopped = true;
      clearInterval(this.#timer);
      this.#sample();
    }
    return {
      peaks: { ...this.#peaks },
      privatePeaks: { ...this.#privatePeaks },
      samples: this.#count,
    };
  }
  #stopped = false;
}
