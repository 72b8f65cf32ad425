/**
 * This node's record in `nodes/<id>`: what the scheduler, DNS and `fossora nodes` know of it.
 * Written on the node's lease and refreshed so `lastSeen` stays current.
 * @module
 */
import { families, type LeasedRecords } from "../state/mod.ts";
import type { HostPathKind, NodeRecord, NodeUsage } from "../state/types.ts";
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";

/** Docker's name for this machine's architecture. */
export function dockerArch(arch: string = Deno.build.arch): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[arch] ?? arch;
}

/** Options of a {@link NodePublisher}. */
export interface NodePublisherOptions {
  leased: LeasedRecords;
  record: Omit<NodeRecord, "lastSeen" | "startedAt" | "state">;
  /** How often `lastSeen` is refreshed, in ms (default 30 s: the lease, not this, tells death). */
  refreshMs?: number;
  /**
   * This node's IPv6 addresses (`addresses6`), read again at every refresh: a home network's
   * IPv6 prefix comes from the ISP and can change while the agent runs. Default: the record's.
   */
  addresses6?: () => string[];
  /** How busy the machine is, measured again at every refresh. */
  usage?: () => NodeUsage;
  log?: Logger;
  now?: () => Date;
}

/** Keeps this node's record in etcd while the agent runs. */
export class NodePublisher {
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #startedAt: string;
  readonly #log: Logger;
  #now: () => Date;

  constructor(readonly options: NodePublisherOptions) {
    this.#now = options.now ?? (() => new Date());
    this.#startedAt = this.#now().toISOString();
    this.#log = options.log ?? silentLogger;
  }

  /** The record as it is written now. */
  record(): NodeRecord {
    const { addresses6: fixed, ...record } = this.options.record;
    const addresses6 = this.options.addresses6?.() ?? fixed;
    let usage: NodeUsage | undefined;
    try {
      usage = this.options.usage?.();
    } catch (err) {
      this.#log.warn("cannot measure this machine's usage", { err });
    }
    return {
      ...record,
      ...(usage ? { usage } : {}),
      // Left out when empty, like a record from an agent that predates the field.
      ...(addresses6?.length ? { addresses6 } : {}),
      state: "ready",
      startedAt: this.#startedAt,
      lastSeen: this.#now().toISOString(),
    };
  }

  /** Writes the record, then refreshes it periodically. */
  async start(): Promise<void> {
    await this.#publish();
    this.#timer = setInterval(() => {
      this.#publish().catch((err) => this.#log.warn("cannot refresh this node's record", { err }));
    }, this.options.refreshMs ?? 30_000);
  }

  /** This node's role changed (the leader made it a voter, or its vote was removed). */
  async setRole(role: NodeRecord["role"]): Promise<void> {
    if (this.options.record.role === role) return;
    this.options.record.role = role;
    await this.#publish();
  }

  /** The API's TLS port is known (it serves once this node is a member). */
  async setApiTlsPort(port: number): Promise<void> {
    if (this.options.record.apiTlsPort === port) return;
    this.options.record.apiTlsPort = port;
    await this.#publish();
  }

  /**
   * What this node has at the host paths services want (see host_paths.ts); an empty map
   * leaves the field out, as no service wants one.
   */
  async setHostPaths(paths: Record<string, HostPathKind>): Promise<void> {
    const next = Object.keys(paths).length ? paths : undefined;
    if (JSON.stringify(this.options.record.hostPaths) === JSON.stringify(next)) return;
    if (next) this.options.record.hostPaths = next;
    else delete this.options.record.hostPaths;
    await this.#publish();
  }

  /** The stack mesh's tunnel port is known (it listens once this node has its certificate). */
  async setMeshPort(port: number): Promise<void> {
    if (this.options.record.meshPort === port) return;
    this.options.record.meshPort = port;
    await this.#publish();
  }

  /** Stops refreshing; the record disappears with the lease. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #publish(): Promise<void> {
    return this.options.leased.put(families.nodes, [this.options.record.id], this.record());
  }
}
