/**
 * Tailnet split DNS for the cluster's domain: with a Tailscale API access token, the elected node
 * points `DOMAIN` at the ready nodes' Tailscale addresses (API v2 `dns/split-dns`), so every
 * device on the tailnet resolves `NAME.DOMAIN` through fossora's DNS with no set-up. It writes
 * only when the addresses change, and tries again with backoff when the API refuses or is away.
 * @module
 */
import { Backoff } from "../util/backoff.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";

/** Where the Tailscale API answers by default. */
export const TAILSCALE_API_URL = "https://api.tailscale.com";

/** The split DNS map: domain to nameserver addresses. */
export type SplitDns = Record<string, string[]>;

/** The Tailscale control API, the little of it fossora uses. */
export class TailscaleApi {
  readonly #base: string;

  constructor(readonly key: string, baseUrl = TAILSCALE_API_URL, readonly timeoutMs = 10_000) {
    this.#base = baseUrl.replace(/\/+$/, "") + "/api/v2/tailnet/-";
  }

  /** The tailnet's split DNS map. */
  getSplitDns(): Promise<SplitDns> {
    return this.#call("GET", "/dns/split-dns");
  }

  /** Sets (or with `null` clears) the nameservers of `domain` only; answers the whole map. */
  patchSplitDns(domain: string, nameservers: string[] | null): Promise<SplitDns> {
    return this.#call("PATCH", "/dns/split-dns", { [domain]: nameservers });
  }

  async #call(method: string, path: string, body?: unknown): Promise<SplitDns> {
    let res: Response;
    try {
      res = await fetch(this.#base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new Error(`the Tailscale API did not answer: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const message = (json as { message?: unknown })?.message;
      const why = typeof message === "string" ? message : text.slice(0, 200);
      const hint = res.status === 401 || res.status === 403
        ? ": check the API access token in --tailscale-api-key-file (it needs DNS write access)"
        : "";
      throw new Error(`the Tailscale API answered ${res.status} (${why})${hint}`);
    }
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new Error(`the Tailscale API answered something that is not a split DNS map`);
    }
    return json as SplitDns;
  }
}

/** Options of a {@link SplitDnsKeeper}. */
export interface SplitDnsKeeperOptions {
  api: Pick<TailscaleApi, "patchSplitDns">;
  domain: string;
  /** The ready nodes' Tailscale addresses now. */
  addresses: () => string[];
  /** True while this node is the one that writes. */
  leading: () => boolean;
  log?: Logger;
  /** First retry delay, doubling to a minute; default 1000. */
  retryMs?: number;
}

/** Keeps the tailnet's split DNS for the domain pointed at the ready nodes. */
export class SplitDnsKeeper {
  /** What the tailnet was last told, sorted and joined; undefined before the first write. */
  #written: string | undefined;
  #busy = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #lastError = "";
  readonly #backoff: Backoff;
  readonly #log: Logger;

  constructor(readonly options: SplitDnsKeeperOptions) {
    this.#log = options.log ?? silentLogger;
    this.#backoff = new Backoff({ initialMs: options.retryMs ?? 1000, maxMs: 60_000 });
  }

  /** Writes the addresses if they changed since the last write (only on the leading node). */
  poke(): void {
    if (this.#stopped) return;
    if (!this.options.leading()) {
      // Another node writes now; if this one leads again it checks anew.
      this.#written = undefined;
      return;
    }
    if (this.#busy) {
      this.#again = true;
      return;
    }
    const addresses = [...new Set(this.options.addresses())].sort();
    // With no ready node known (a moment at start), the domain keeps what it had.
    if (addresses.length === 0 || addresses.join(",") === this.#written) return;
    this.#busy = true;
    clearTimeout(this.#timer);
    this.options.api.patchSplitDns(this.options.domain, addresses).then(() => {
      this.#written = addresses.join(",");
      this.#backoff.reset();
      this.#lastError = "";
      this.#log.info("tailnet split DNS points the domain at the ready nodes", {
        domain: this.options.domain,
        nameservers: addresses,
      });
    }, (err: Error) => {
      if (err.message !== this.#lastError) {
        this.#log.warn("cannot set tailnet split DNS; trying again", { err: err.message });
        this.#lastError = err.message;
      }
      const delay = this.#backoff.next(Date.now());
      this.#timer = setTimeout(() => this.poke(), delay);
    }).finally(() => {
      this.#busy = false;
      if (this.#again) {
        this.#again = false;
        this.poke();
      }
    });
  }

  /** Stops writing. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
