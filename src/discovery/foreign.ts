/**
 * Watching for other clusters on the network, once this node is a member of one: every round it
 * asks the agents discovery shows outside its own cluster for their join info (open to anyone),
 * and acts on {@link mergePlan}: it warns about a cluster that runs services beside this one (in
 * the log once, and in {@link ForeignClusters.warnings} for `GET /api/v1/cluster` while seen),
 * and hands the cluster to give way to to `onGiveWay`. Giving way wipes this node's cluster
 * state, so it needs two rounds in a row that agree, with this cluster's facts read afresh each
 * time (a failed read is no reason to act). Answers come from whatever listens on a peer's
 * port: small bodies only, a strict shape, a deadline per address.
 * @module
 */
import { type Logger, silentLogger } from "../util/log.ts";
import { isDnsLabel } from "../util/names.ts";
import { BodyTooLarge, jsonObject, readBoundedBody } from "./body.ts";
import { isClusterId } from "./mdns_records.ts";
import { type ClusterFacts, conflictWarning, type ForeignCluster, mergePlan } from "./merge.ts";
import { isIPv4 } from "./tailscale.ts";

/** An agent discovery found: its API (`host:port`) and its cluster when discovery says it. */
export interface Peer {
  address: string;
  cluster?: string;
}

/** Asks the agent at `address` (`host:port`) for its join info; undefined when it is none. */
export type AskJoinInfo = (
  address: string,
  signal: AbortSignal,
) => Promise<Omit<ForeignCluster, "address"> | undefined>;

/** What {@link ForeignClusters} reads and whom it tells. */
export interface ForeignClustersOptions {
  /** This cluster's facts, read afresh (etcd): a rejection skips the round. */
  mine: () => Promise<ClusterFacts>;
  /** The agents discovery shows now. */
  peers: () => Peer[];
  /** The APIs (`host:port`) of this cluster's own nodes: never asked. */
  own: () => ReadonlySet<string>;
  /** Called once, when this cluster gives way to `to`; the rounds stop then. */
  onGiveWay: (to: ForeignCluster) => void;
  /** Default {@link httpJoinInfo}. */
  ask?: AskJoinInfo;
  /** Time between rounds, ms; default 5000. */
  everyMs?: number;
  /** Agents asked at once; default 8. */
  concurrency?: number;
  log?: Logger;
}

/** See the module doc. */
export class ForeignClusters {
  readonly #o: ForeignClustersOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #warnings = new Map<string, string>();
  /** The cluster the last round would have given way to. */
  #leaning: string | undefined;
  #gaveWay = false;

  constructor(o: ForeignClustersOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  /** Starts the rounds, the first at once. */
  start(): void {
    const next = () => {
      this.#running = this.round().catch((err) => {
        if (!this.#abort.signal.aborted) {
          this.#log.debug("looking for other clusters failed this round", { err: String(err) });
        }
      }).finally(() => {
        if (!this.#abort.signal.aborted && !this.#gaveWay) {
          this.#timer = setTimeout(next, this.#o.everyMs ?? 5000);
        }
      });
    };
    next();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Warnings about clusters that run services beside this one, as of the last round. */
  warnings(): string[] {
    return [...this.#warnings.values()];
  }

  /** One round: ask, decide, act. Exposed for tests, which drive rounds themselves. */
  async round(): Promise<void> {
    if (this.#gaveWay) return;
    let mine: ClusterFacts;
    let seen: ForeignCluster[];
    try {
      mine = await deadline(this.#o.mine(), MINE_TIMEOUT_MS, "this cluster's facts");
      seen = await this.#ask(mine.id);
    } catch (err) {
      // Two rounds that agree must be two rounds in a row.
      this.#leaning = undefined;
      throw err;
    }
    const plan = mergePlan(mine, seen);
    const warnings = new Map<string, string>();
    for (const c of plan.conflicts) {
      const text = conflictWarning(c);
      if (!this.#warnings.has(c.id)) this.#log.warn(text, { cluster: c.id, node: c.node });
      warnings.set(c.id, text);
    }
    this.#warnings = warnings;
    const to = plan.giveWayTo;
    if (!to) {
      this.#leaning = undefined;
      return;
    }
    if (this.#leaning !== to.id) {
      this.#leaning = to.id;
      this.#log.info("another cluster outranks this one; giving way if it still does next round", {
        cluster: to.id,
        node: to.node,
        at: to.address,
      });
      return;
    }
    this.#gaveWay = true;
    this.#o.onGiveWay(to);
  }

  /** The join info of every peer outside this cluster, asked a few at a time. */
  async #ask(mine: string): Promise<ForeignCluster[]> {
    const own = this.#o.own();
    const addresses = [
      ...new Set(
        this.#o.peers().filter((p) => p.cluster !== mine && !own.has(p.address))
          .map((p) => p.address),
      ),
    ];
    const ask = this.#o.ask ?? httpJoinInfo;
    const out: ForeignCluster[] = [];
    let next = 0;
    const worker = async () => {
      while (next < addresses.length) {
        const address = addresses[next++];
        const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(2000)]);
        const info = await ask(address, signal).catch(() => undefined);
        if (info) out.push({ ...info, address });
      }
    };
    const n = Math.min(this.#o.concurrency ?? 8, addresses.length);
    await Promise.all(Array.from({ length: n }, worker));
    this.#abort.signal.throwIfAborted();
    // In the order discovery listed them, so the warnings do not shuffle between rounds.
    return out.sort((a, b) => addresses.indexOf(a.address) - addresses.indexOf(b.address));
  }
}

/** The longest wait for this cluster's facts (etcd without quorum hangs), ms. */
const MINE_TIMEOUT_MS = 5000;

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Largest join info read: the real one is a couple of hundred bytes. */
export const MAX_JOIN_INFO_BYTES = 4096;

/**
 * The real {@link AskJoinInfo}: `GET http://ADDRESS/api/v1/join/info`, a 200 with a JSON body of
 * at most {@link MAX_JOIN_INFO_BYTES} read by {@link readJoinInfo}; no redirects followed, no
 * connection kept.
 */
export async function httpJoinInfo(
  address: string,
  signal: AbortSignal,
): Promise<Omit<ForeignCluster, "address"> | undefined> {
  const m = /^(.+):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  const host = isIPv4(m[1]) ? m[1] : `[${m[1].replace(/^\[|\]$/g, "")}]`;
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const res = await fetch(`http://${host}:${m[2]}/api/v1/join/info`, {
    client,
    signal,
    redirect: "manual",
    headers: { accept: "application/json" },
  });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    return undefined;
  }
  try {
    return readJoinInfo(await readBoundedBody(res, MAX_JOIN_INFO_BYTES));
  } catch (err) {
    if (err instanceof BodyTooLarge) return undefined;
    throw err;
  }
}

/** The cluster facts in a join info body, when it is one: undefined for anything else. */
export function readJoinInfo(body: Uint8Array): Omit<ForeignCluster, "address"> | undefined {
  const json = jsonObject(body);
  if (!json) return undefined;
  const { cluster, created, empty, node } = json;
  if (typeof cluster !== "string" || !isClusterId(cluster)) return undefined;
  if (typeof created !== "string" || created.length > 40 || Number.isNaN(Date.parse(created))) {
    return undefined;
  }
  if (typeof empty !== "boolean" || typeof node !== "string" || !isDnsLabel(node)) {
    return undefined;
  }
  return { id: cluster, created, empty, node };
}
