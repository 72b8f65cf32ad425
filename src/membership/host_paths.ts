/**
 * Which of the host paths and devices services want this node has: the agent checks every
 * service's `binds[].source` and `devices[].host` here and publishes what it found in its node
 * record (`hostPaths`), so the scheduler places a service only where its paths are. Checked again
 * when services change and every few seconds (a USB disk gets mounted); written only on change.
 * @module
 */
import {
  type HostPathKind,
  MAX_HOST_PATH_CHARS,
  MAX_HOST_PATHS,
  type ServiceSpec,
} from "../state/types.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";

/**
 * The host paths `specs` want, sorted, without duplicates. Only absolute paths of at most
 * {@link MAX_HOST_PATH_CHARS} characters without NUL, and at most {@link MAX_HOST_PATHS} of them:
 * a hostile spec cannot make a node check (or its record hold) more.
 */
export function wantedHostPaths(specs: ServiceSpec[]): string[] {
  const paths = new Set<string>();
  for (const s of specs) {
    for (const b of s.binds ?? []) paths.add(b.source);
    for (const d of s.devices ?? []) paths.add(d.host);
  }
  return [...paths]
    .filter((p) =>
      typeof p === "string" && p.startsWith("/") && p.length <= MAX_HOST_PATH_CHARS &&
      !p.includes("\0")
    )
    .sort()
    .slice(0, MAX_HOST_PATHS);
}

/** What is at `path` on this machine, following symbolic links; any error is `missing`. */
export async function checkHostPath(
  path: string,
  stat: (path: string) => Promise<Deno.FileInfo> = Deno.stat,
): Promise<HostPathKind> {
  try {
    const s = await stat(path);
    if (s.isDirectory) return "dir";
    if (s.isFile) return "file";
    if (s.isCharDevice || s.isBlockDevice) return "device";
    return "other";
  } catch {
    // Not there, or not ours to see (a permission error): either way no container gets it.
    return "missing";
  }
}

/** Options of a {@link HostPathReporter}. */
export interface HostPathReporterOptions {
  /** The specs of every service, from the mirror. */
  services: () => ServiceSpec[];
  /** Writes the result into this node's record. */
  publish: (paths: Record<string, HostPathKind>) => Promise<void>;
  check?: (path: string) => Promise<HostPathKind>;
  /** How often the paths are checked again without a change of services (default 5 s). */
  intervalMs?: number;
  log?: Logger;
}

/** Keeps this node's `hostPaths` current; see the module's documentation. */
export class HostPathReporter {
  #timer: ReturnType<typeof setInterval> | undefined;
  #running = false;
  #again = false;
  /** What was published last, as JSON; undefined before the first write. */
  #last: string | undefined;
  /** The paths the last check looked at, as JSON. */
  #wanted: string | undefined;
  readonly #log: Logger;

  constructor(readonly options: HostPathReporterOptions) {
    this.#log = options.log ?? silentLogger;
  }

  /** Checks now, then every `intervalMs`. */
  start(): void {
    this.poke();
    this.#timer = setInterval(() => this.poke(), this.options.intervalMs ?? 5000);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Services changed: checks at once when the paths they want did. */
  changed(): void {
    if (JSON.stringify(wantedHostPaths(this.options.services())) !== this.#wanted) this.poke();
  }

  /** Checks now, or right after the check under way. */
  poke(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.check()
      .catch((err) => this.#log.warn("cannot report this node's host paths", { err }))
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.poke();
        }
      });
  }

  /** One check: publishes the result when it differs from the last one published. */
  async check(): Promise<Record<string, HostPathKind>> {
    const check = this.options.check ?? checkHostPath;
    const paths = wantedHostPaths(this.options.services());
    this.#wanted = JSON.stringify(paths);
    const kinds = await Promise.all(paths.map((p) => check(p)));
    const found = Object.fromEntries(paths.map((p, i) => [p, kinds[i]]));
    const json = JSON.stringify(found);
    if (json !== this.#last) {
      await this.options.publish(found);
      // Only once written: a failed write is tried again at the next check.
      this.#last = json;
      this.#log.info("host paths", { paths: found });
    }
    return found;
  }
}
