/**
 * What platforms each service's image is built for, learned in the background and kept for a
 * while, so the scheduler's filters can ask synchronously: an image not looked up yet, or one
 * whose lookup failed, restricts nothing.
 * @module
 */
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";

/** Looks an image's platforms up (`linux/arm64`…); undefined when they cannot be known. */
export type PlatformLookup = (image: string, signal: AbortSignal) => Promise<string[] | undefined>;

/** Options of {@link ImagePlatforms}. */
export interface ImagePlatformsOptions {
  lookup: PlatformLookup;
  /** Called when a first answer arrives, or one that differs from what was known. */
  onLearned: () => void;
  /** How long an answer is kept (default 10 min): a tag may be pushed again for more platforms. */
  keepMs?: number;
  /** When a lookup that failed or found nothing is tried again (default 1 min). */
  retryMs?: number;
  now?: () => number;
  log?: Logger;
}

interface Entry {
  platforms?: string[];
  until: number;
}

/** A cache of image platforms that fills itself; see the module's documentation. */
export class ImagePlatforms {
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Set<string>();
  readonly #stop = new AbortController();
  readonly #now: () => number;
  readonly #log: Logger;

  constructor(readonly options: ImagePlatformsOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#log = options.log ?? silentLogger;
  }

  /** The image's platforms as last learned; starts a lookup when none is fresh. */
  get(image: string): string[] | undefined {
    const entry = this.#entries.get(image);
    if ((!entry || entry.until <= this.#now()) && !this.#pending.has(image)) this.#learn(image);
    return entry?.platforms;
  }

  /** True while the image's first lookup is under way (and starts it when none was made). */
  pending(image: string): boolean {
    this.get(image);
    return !this.#entries.has(image) && this.#pending.has(image);
  }

  /** Ends lookups under way. */
  close(): void {
    this.#stop.abort();
  }

  #learn(image: string): void {
    this.#pending.add(image);
    const { lookup, keepMs = 600_000, retryMs = 60_000 } = this.options;
    lookup(image, this.#stop.signal)
      .catch((err) => {
        this.#log.debug("cannot tell which platforms an image is built for", { image, err });
        return undefined;
      })
      .then((platforms) => {
        if (this.#stop.signal.aborted) return;
        const before = this.#entries.get(image);
        this.#entries.set(image, {
          platforms,
          until: this.#now() + (platforms ? keepMs : retryMs),
        });
        // A first answer is news even when it is "unknown": placement was waiting for it.
        if (!before || String(before.platforms) !== String(platforms)) this.options.onLearned();
      })
      .finally(() => this.#pending.delete(image));
  }
}

/** The architectures among Linux platforms (`linux/arm/v7` gives `arm`). */
export function linuxArches(platforms: readonly string[]): string[] {
  const arches = platforms.flatMap((p) => {
    const [os, arch] = p.split("/");
    return os === "linux" && arch ? [arch] : [];
  });
  return [...new Set(arches)];
}
