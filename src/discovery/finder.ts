/**
 * One list of places to join through, from every source of discovery: the static `--join`
 * addresses first (a person named them), then nodes announced over mDNS that belong to a
 * cluster, then tailnet peers whose API answers as fossora. The joiner asks it anew each round,
 * so a node found late is tried too.
 * @module
 */
import { type Logger, silentLogger } from "../util/log.ts";
import type { Peer } from "./foreign.ts";
import type { LoneNode } from "./founding.ts";
import type { MdnsDiscovery } from "./mdns.ts";
import { httpHealthProbe, probeFossora } from "./probe.ts";
import type { LocalApiClient } from "./tailscale.ts";
import { tailnetCandidates } from "./tailnet.ts";

/** What the finder looks through. */
export interface FinderOptions {
  /** `--join`: `host:port` of agents. */
  static: readonly string[];
  mdns?: MdnsDiscovery;
  /** tailscaled's LocalAPI, and the API port fossora agents answer on there. */
  tailscale?: { client: Pick<LocalApiClient, "status">; apiPort: number };
  /** How often tailnet peers are probed again, ms; default 10 s. */
  tailnetEveryMs?: number;
  log?: Logger;
}

/** Gathers join candidates. */
export class Finder {
  readonly #o: FinderOptions;
  readonly #log: Logger;
  #tailnet: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #probing: Promise<void> | undefined;

  constructor(o: FinderOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  /** Starts probing the tailnet (mDNS runs on its own). */
  start(): void {
    if (!this.#o.tailscale) return;
    const round = () => {
      this.#probing = this.#probeTailnet().finally(() => {
        if (!this.#abort.signal.aborted) {
          this.#timer = setTimeout(round, this.#o.tailnetEveryMs ?? 10_000);
        }
      });
    };
    round();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#probing?.catch(() => {});
  }

  /** The candidates now, best first, without repeats. */
  candidates(): string[] {
    const mdns = (this.#o.mdns?.candidates() ?? [])
      .filter((c) => c.clusterId)
      .map((c) => `${c.address}:${c.apiPort}`);
    return [...new Set([...this.#o.static, ...mdns, ...this.#tailnet])];
  }

  /**
   * The agents automatic discovery found (not `--join`'s), with the cluster mDNS says each is in;
   * tailnet agents say nothing until asked. For noticing other clusters (foreign.ts).
   */
  peers(): Peer[] {
    const mdns = (this.#o.mdns?.candidates() ?? [])
      .filter((c) => c.clusterId)
      .map((c) => ({ address: `${c.address}:${c.apiPort}`, cluster: c.clusterId }));
    return [...mdns, ...this.#tailnet.map((address) => ({ address }))];
  }

  /**
   * The nodes mDNS shows without a cluster: new nodes still looking, or joining one. A new node
   * reads them to decide who founds (see founding.ts).
   */
  loneNodes(): LoneNode[] {
    return (this.#o.mdns?.candidates() ?? [])
      .filter((c) => !c.clusterId)
      .map((c) => ({ id: c.id, name: c.name }));
  }

  async #probeTailnet(): Promise<void> {
    const ts = this.#o.tailscale!;
    try {
      const status = await ts.client.status();
      const found = await probeFossora(tailnetCandidates(status), ts.apiPort, httpHealthProbe, {
        signal: this.#abort.signal,
      });
      this.#tailnet = found.filter((f) => f.ready).map((f) => `${f.address}:${ts.apiPort}`);
    } catch (err) {
      if (!this.#abort.signal.aborted) {
        this.#log.debug("tailnet discovery failed this round", { err: String(err) });
      }
    }
  }
}
