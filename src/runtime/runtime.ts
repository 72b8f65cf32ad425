/**
 * The container reconciler of one node: a dumb loop around the pure decisions in plan.ts. Each
 * pass lists this node's containers, updates memory, probes readiness, performs the planned
 * steps (one replica at a time, replicas in parallel) and reports what changed. Docker events
 * trigger passes quickly; a periodic resync catches whatever an event stream lost.
 * @module
 */
import { portKey, type ReplicaStatus, type ServiceSpec } from "../state/types.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { untilAborted } from "./abort.ts";
import { addressProblem, probeHost } from "./address.ts";
import { type CreateOptions, type DockerApi, DockerError } from "./docker.ts";
import {
  containerLabels,
  containerName,
  LABEL,
  type Observed,
  ownedBy,
  ownerLabels,
  parseObserved,
  replicaKey,
  volumeName,
  type WantedReplica,
} from "./labels.ts";
import { demuxLogs } from "./logs.ts";
import {
  type Action,
  backoff,
  byReplica,
  freshMemory,
  HEALTHY_RUN_MS,
  observe,
  pickContainer,
  plan,
  type ReplicaMemory,
} from "./plan.ts";
import { type Probe, tcpProbe } from "./probe.ts";
import { detectHttp, type HttpDetect } from "./detect.ts";
import type { MountedFiles } from "./files.ts";
import { sameWanted } from "./same.ts";
import { describe, httpPort, type Observation, RUNNING_READY_MS, sameStatus } from "./status.ts";
import { checkWanted, type Rejected } from "./validate.ts";

/** How a container joins its stack's network: the part of {@link CreateOptions} it sets. */
export type ContainerAttach = Pick<CreateOptions, "network" | "hosts" | "dns">;

/** A timer handle, as setTimeout returns it. */
export type TimerId = ReturnType<typeof setTimeout>;

/** Lines `logs` returns when no `tail` is given: enough to see what happened, never a whole log. */
export const DEFAULT_LOG_TAIL = 1000;

/** What the runtime needs from its caller. */
/** How soon a replica waiting for its dependencies is looked at again, in ms. */
const WAIT_RECHECK_MS = 500;

/** The most `detectHttp` ports of one replica checked for HTTP. */
const DETECT_PORTS = 8;

/** Passes that look for an HTTP port on a replica before giving up (about 2 minutes). */
const DETECT_TRIES = 24;

export interface RuntimeOptions {
  /** The engine; `createDockerApi(dockerHost)` builds the real one. */
  docker: DockerApi;
  /** This node's id, put in the `fossora.node` label: only containers carrying it are touched. */
  nodeId: string;
  /**
   * This node's address (an IP literal, the advertise address other nodes' proxies dial):
   * container ports are published on it and probed there, and it is copied into every
   * ReplicaStatus. "0.0.0.0" publishes on every interface.
   */
  address: string;
  /** Called whenever a replica's observed status changes. A throw is logged and retried. */
  report: (status: ReplicaStatus) => void | Promise<void>;
  /** Called once a replica is no longer wanted here and its container is gone. */
  forget: (service: string, replica: number) => void | Promise<void>;
  /**
   * For a service of a stack: readies the stack's network on this node and says how its
   * container joins it (network, `/etc/hosts` lines, DNS), just before the container is made.
   * Without it, stack services run on Docker's default bridge like any other.
   */
  attach?: (spec: ServiceSpec, signal: AbortSignal) => Promise<ContainerAttach>;
  log?: Logger;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
  /** Timer to schedule passes and reconnects; default setTimeout. */
  setTimer?: (fn: () => void, ms: number) => TimerId;
  /** Cancels a timer made by setTimer; default clearTimeout. */
  clearTimer?: (id: TimerId) => void;
  /** Full resync period in ms; default 5000. */
  resyncMs?: number;
  /**
   * How often ready replicas with an HTTP port are probed between passes, so one that stops
   * answering leaves every node's routing within a second or two; default 1000, 0 for never.
   */
  readyProbeMs?: number;
  /** Readiness probe of a published port on this node's address; default `tcpProbe`. */
  probe?: Probe;
  /**
   * Why a replica of `spec` may not be created yet (its `depends_on`), or undefined; default
   * never waits.
   */
  waitFor?: (spec: ServiceSpec) => string | undefined;
  /** Writes the stack secrets and configs a replica mounts; none without it. */
  files?: MountedFiles;
  /** Whether a published port answers HTTP (for `detectHttp` ports); default `detectHttp`. */
  detect?: HttpDetect;
  /** Probe period in ms while a replica is running but not ready; default 200. */
  probeMs?: number;
  /**
   * Seconds a container gets to stop before it is killed, unless its service gives its own
   * (`container.stopGracePeriod`); default 10.
   */
  stopGraceSeconds?: number;
  /**
   * How long a ready container is shown not ready before it is stopped, so that proxies stop
   * sending it requests first; default 1000.
   */
  withdrawMs?: number;
  /**
   * Most ms `stop()` waits for steps under way after cancelling them; default 3000. Cancelled
   * Docker calls end at once, so this only bounds a caller's report/forget that hangs.
   */
  stopWaitMs?: number;
}

/** Thrown by `logs` when this node has no container for the replica. */
export class NoContainerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoContainerError";
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A copy the caller cannot change under us, or undefined when the list cannot be copied. */
function snapshot(list: readonly unknown[]): unknown[] | undefined {
  try {
    return structuredClone(list) as unknown[];
  } catch {
    return undefined;
  }
}

/** What the log says about a set-aside entry. */
function rejectedLine(r: Rejected): string {
  const who = r.target ? `${r.target.service}/${r.target.replica}` : "an entry";
  return `wanted[${r.index}] (${who}): ${r.problems.join("; ")}`;
}

/** The status a set-aside replica shows, so the user sees why it does not run. */
function rejectedStatus(target: NonNullable<Rejected["target"]>, problems: string[]): Observation {
  return {
    ...target,
    state: "error",
    ready: false,
    ports: {},
    restarts: 0,
    message: `not applied, its record is invalid: ${problems.join("; ")}. ` +
      "Deploy the service again (fossora deploy FILE) to rewrite it",
  };
}

/** Brings the local Docker engine to the wanted replicas and reports what it sees. */
export class Runtime {
  readonly #o: RuntimeOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => TimerId;
  #readyTimer: TimerId | undefined;
  readonly #clearTimer: (id: TimerId) => void;
  readonly #resyncMs: number;
  readonly #probeMs: number;
  readonly #probe: Probe;
  readonly #detect: HttpDetect;

  #wanted: WantedReplica[] = [];
  /** The list as last handed in, to spot an unchanged one; undefined when it could not be kept. */
  #given: unknown[] | undefined;
  /** Replicas whose entry was set aside, with the error status they show. */
  #rejected = new Map<string, Observation>();
  /** Problems already logged, so a list handed in again and again logs each once. */
  #logged = new Set<string>();
  #memory = new Map<string, ReplicaMemory>();
  /** What each wanted replica looks like now, and what was last reported successfully. */
  #current = new Map<string, ReplicaStatus>();
  #reported = new Map<string, ReplicaStatus>();
  /** The last report of each replica under way, which the next one waits for. */
  readonly #reports = new Map<string, Promise<void>>();
  #lastProbe = new Map<string, number>();

  #running = false;
  #seq = 0;
  #busy = new Set<string>();
  /** Sequence number at which each replica's last steps finished. */
  #doneSeq = new Map<string, number>();
  #tasks = new Set<Promise<void>>();
  #pass: Promise<void> | undefined;
  #again = false;
  #timer: TimerId | undefined;
  #down: string | undefined;
  #events: AbortController | undefined;
  #watcher: Promise<void> | undefined;
  #wakers = new Set<() => void>();
  /** Aborted by stop(): cancels every Docker call under way. */
  #halt: AbortController | undefined;

  /** Builds a stopped runtime; nothing touches Docker before `start`. */
  constructor(o: RuntimeOptions) {
    if (!o || typeof o.nodeId !== "string" || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(o.nodeId)) {
      throw new TypeError(
        "Runtime needs a nodeId of letters, digits, '_', '.' and '-' (it is part of container names)",
      );
    }
    if (!o.docker || typeof o.report !== "function" || typeof o.forget !== "function") {
      throw new TypeError("Runtime needs docker, report and forget");
    }
    const bad = addressProblem(o.address);
    if (bad) throw new TypeError(bad);
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = o.clearTimer ?? ((id) => clearTimeout(id));
    this.#resyncMs = o.resyncMs ?? 5_000;
    this.#probeMs = o.probeMs ?? 200;
    this.#probe = o.probe ?? ((port, host) => tcpProbe(port, 1_000, host));
    this.#detect = o.detect ?? ((port, host) => detectHttp(port, host));
  }

  /**
   * Replaces the replicas this node must run. Never throws: an invalid entry is set aside
   * (logged once, and reported as an `error` status naming its problem when it names a
   * replica) while every valid entry is applied; the containers of a set-aside replica are left
   * as they are. A list equal to the current one is a no-op. A non-list keeps the current one.
   */
  setWanted(wanted: readonly WantedReplica[]): void {
    if (!Array.isArray(wanted)) {
      this.#logOnce([`wanted replicas must be a list, got ${typeof wanted}; kept the last list`]);
      return;
    }
    if (this.#given && sameWanted(this.#given, wanted)) return;
    this.#given = snapshot(wanted);
    const { valid, rejected, duplicates } = checkWanted(this.#given ?? wanted);
    this.#wanted = valid.map((w) => ({ ...w }));
    this.#setRejected(rejected);
    this.#logOnce([...rejected.map(rejectedLine), ...duplicates]);
    this.#kick();
  }

  /** Keeps the error statuses of set-aside replicas; one no longer listed at all is forgotten. */
  #setRejected(rejected: Rejected[]): void {
    const next = new Map<string, Observation>();
    for (const r of rejected) {
      if (!r.target) continue;
      const key = replicaKey(r.target.service, r.target.replica);
      if (!next.has(key)) next.set(key, rejectedStatus(r.target, r.problems));
    }
    const wanted = new Set(this.#wanted.map((w) => replicaKey(w.service, w.replica)));
    for (const key of this.#rejected.keys()) {
      // An entry in memory is what makes plan() forget a replica once nothing of it is left.
      if (!next.has(key) && !wanted.has(key) && !this.#memory.has(key)) {
        this.#memory.set(key, freshMemory(0));
      }
    }
    this.#rejected = next;
  }

  #logOnce(problems: string[]): void {
    for (const p of problems) {
      if (!this.#logged.has(p)) this.#log.error("wanted replica not applied", { problem: p });
    }
    this.#logged = new Set(problems);
  }

  /** Starts the loop and returns after the first pass. Never throws when Docker is down. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#halt = new AbortController();
    this.#events = new AbortController();
    this.#watcher = this.#watchEvents(this.#events.signal);
    this.#watchReady();
    this.#kick();
    await this.#pass;
  }

  /**
   * Probes the ready replicas' HTTP ports every `readyProbeMs`; one that does not answer gets a
   * pass at once, which probes it again and reports it not ready if it still does not.
   */
  #watchReady(): void {
    const every = this.#o.readyProbeMs ?? 1000;
    if (every <= 0) return;
    const host = probeHost(this.#o.address);
    const tick = async () => {
      this.#readyTimer = undefined;
      if (!this.#running) return;
      const failed: string[] = [];
      await Promise.all(this.#wanted.map(async (w) => {
        const key = replicaKey(w.service, w.replica);
        const s = this.#current.get(key);
        const port = httpPort(w);
        const hostPort = port === undefined ? undefined : s?.ports[String(port)];
        if (!s?.ready || hostPort === undefined) return;
        if (!(await this.#probe(hostPort, host))) failed.push(key);
      }));
      for (const key of failed) this.#lastProbe.delete(key);
      if (failed.length) this.#kick();
      if (this.#running) this.#readyTimer = this.#setTimer(() => void tick(), every);
    };
    this.#readyTimer = this.#setTimer(() => void tick(), every);
  }

  /**
   * Stops the loop: cancels the Docker calls under way (a pull, a stop's grace period...) and
   * returns once the steps have let go, within `stopWaitMs` at worst. Containers keep running;
   * whatever a cancelled step left (a created container not yet started) carries its labels
   * and name, so the next runtime adopts or removes it.
   */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) this.#clearTimer(this.#timer);
    this.#timer = undefined;
    if (this.#readyTimer !== undefined) this.#clearTimer(this.#readyTimer);
    this.#readyTimer = undefined;
    this.#events?.abort();
    this.#halt?.abort();
    for (const wake of [...this.#wakers]) wake();
    const all = Promise.all([this.#watcher, this.#pass, ...this.#tasks]);
    if (!(await this.#within(all, this.#o.stopWaitMs ?? 3_000))) {
      this.#log.warn("stopped while steps were still under way", { steps: this.#tasks.size });
    }
  }

  /** True when `p` settles within `ms`; the timer never outlives the wait. */
  #within(p: Promise<unknown>, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const id = this.#setTimer(() => resolve(false), ms);
      p.then(() => {
        this.#clearTimer(id);
        resolve(true);
      });
    });
  }

  /** The current status of every wanted replica (set-aside ones included), as last observed. */
  status(): ReplicaStatus[] {
    const keys = new Set(this.#rejected.keys());
    for (const w of this.#wanted) keys.add(replicaKey(w.service, w.replica));
    return [...this.#current.entries()]
      .filter(([key]) => keys.has(key))
      .map(([, s]) => s)
      .sort((a, b) => a.service.localeCompare(b.service) || a.replica - b.replica);
  }

  /**
   * A replica's container output as plain text lines; `follow` keeps streaming new lines.
   * Without `tail` only the last DEFAULT_LOG_TAIL (1000) lines are sent; the log is streamed
   * from Docker as it is read, never loaded whole.
   */
  async logs(
    service: string,
    replica: number,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
  ): Promise<ReadableStream<Uint8Array>> {
    if (typeof service !== "string" || !Number.isInteger(replica) || replica < 0) {
      throw new RangeError("logs needs a service name and a replica index >= 0");
    }
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) {
      throw new RangeError("logs: tail must be an integer >= 0");
    }
    const found = (await this.#o.docker.list({
      ...ownerLabels(this.#o.nodeId),
      [LABEL.service]: service,
      [LABEL.replica]: String(replica),
    })).map(parseObserved).filter((c): c is Observed => c !== undefined);
    const w = this.#wanted.find((x) => x.service === service && x.replica === replica);
    const c = (w && pickContainer(w, found)) ??
      found.sort((a, b) => b.generation - a.generation || b.startedAt - a.startedAt)[0];
    if (!c) {
      throw new NoContainerError(
        `no container for ${service} replica ${replica} on node ${this.#o.nodeId}`,
      );
    }
    const tail = opts.tail ?? DEFAULT_LOG_TAIL;
    return demuxLogs(await this.#o.docker.logs(c.id, { ...opts, tail }));
  }

  /**
   * True while this node has, or may still have, a container of `service`: a replica is known
   * here until its containers are gone and it is forgotten, stopping ones included.
   */
  holds(service: string): boolean {
    for (const s of this.#current.values()) if (s.service === service) return true;
    return false;
  }

  /**
   * Kills every container of `service` on this node at once (no grace period): a node that lost
   * contact with the cluster fences a service that must never run twice, before another node
   * may start it. The next pass removes them if they are no longer wanted.
   */
  async kill(service: string): Promise<void> {
    const found = await this.#o.docker.list({
      ...ownerLabels(this.#o.nodeId),
      [LABEL.service]: service,
    });
    if (found.length === 0) return;
    await Promise.all(found.map((c) => this.#o.docker.stop(c.id, 0).catch(() => {})));
    this.#log.warn("killed the containers of a service that must run in one place", {
      service,
      containers: found.length,
    });
  }

  /** Asks for a pass; passes never overlap, and a request during one runs another after it. */
  #kick(): void {
    if (!this.#running) return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    this.#pass = this.#passes().finally(() => {
      this.#pass = undefined;
    });
  }

  async #passes(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#passOnce();
      } catch (err) {
        this.#log.error("reconcile pass failed", { error: errorMessage(err) });
        if (this.#running) this.#schedule(this.#now() + this.#resyncMs);
      }
    } while (this.#again && this.#running);
  }

  async #passOnce(): Promise<void> {
    const listSeq = ++this.#seq;
    const wanted = this.#wanted;
    const signal = this.#signal();
    let actual: Observed[];
    try {
      const listed = await this.#call(
        "docker list",
        (s) => this.#o.docker.list(ownerLabels(this.#o.nodeId), s),
      );
      actual = listed.map(parseObserved).filter((c): c is Observed => c !== undefined);
    } catch (err) {
      if (signal.aborted) return;
      await this.#dockerDown(wanted, err);
      return;
    }
    for (const [key, obs] of this.#rejected) await this.#publish(key, obs);
    if (this.#down !== undefined) this.#log.info("docker engine reachable again");
    this.#down = undefined;
    const now = this.#now();
    // Replicas whose steps finished after the list began are judged on the next pass.
    const settled = (key: string) =>
      !this.#busy.has(key) && (this.#doneSeq.get(key) ?? 0) < listSeq;
    this.#memory = observe({ wanted, actual, memory: this.#memory, now });
    const gated = this.#gate(wanted, actual);
    const notReady = await this.#probeAll(wanted, actual, now, settled);
    await this.#detectAll(wanted, actual, settled);
    const groups = byReplica(actual);
    // When a replica without an HTTP port will have run long enough to be ready.
    let readyAt: number | undefined;
    const reports: Promise<void>[] = [];
    for (const w of wanted) {
      const key = replicaKey(w.service, w.replica);
      if (!settled(key)) continue;
      const c = pickContainer(w, groups.get(key) ?? []);
      const obs = describe(w, c, this.#memory.get(key), undefined, now);
      if (c?.running && !obs.ready && !c.health && httpPort(w) === undefined) {
        readyAt = Math.min(readyAt ?? Infinity, c.startedAt + RUNNING_READY_MS);
      }
      reports.push(this.#publish(key, obs));
    }
    const p = plan({ wanted, actual, memory: this.#memory, now });
    // The steps start without waiting for the reports: over a slow link each is a round trip
    // to etcd's leader, and a replica moving here after a node died would wait for them.
    // A set-aside replica's containers are left alone: what it should run is unknown.
    if (this.#running) {
      this.#launch(p.actions.filter((a) =>
        settled(a.key) && !this.#rejected.has(a.key) &&
        !(a.kind === "create" && this.#memory.get(a.key)?.waiting)
      ));
    }
    await Promise.all(reports);
    if (!this.#running) return;
    let next = this.#now() + this.#resyncMs;
    if (p.wakeAt !== undefined) next = Math.min(next, p.wakeAt);
    if (notReady) next = Math.min(next, this.#now() + this.#probeMs);
    // A dependency's status arrives through etcd, not Docker: look again soon.
    if (gated) next = Math.min(next, this.#now() + WAIT_RECHECK_MS);
    if (readyAt !== undefined) next = Math.min(next, readyAt);
    this.#schedule(next);
  }

  /** Docker could not be listed: every wanted replica is in error, and we try again later. */
  async #dockerDown(wanted: WantedReplica[], err: unknown): Promise<void> {
    const message = `docker engine unreachable: ${errorMessage(err)}`;
    if (this.#down !== message) this.#log.error(message);
    this.#down = message;
    for (const [key, obs] of this.#rejected) await this.#publish(key, obs);
    for (const w of wanted) {
      const key = replicaKey(w.service, w.replica);
      if (this.#busy.has(key)) continue;
      await this.#publish(key, describe(w, undefined, this.#memory.get(key), message));
    }
    if (this.#running) this.#schedule(this.#now() + this.#resyncMs);
  }

  /**
   * Probes running replicas with an HTTP port: every pass while not ready, once a resync
   * period when ready. Returns whether any is still waiting to become ready.
   */
  async #probeAll(
    wanted: WantedReplica[],
    actual: Observed[],
    now: number,
    settled: (key: string) => boolean,
  ): Promise<boolean> {
    const groups = byReplica(actual);
    const host = probeHost(this.#o.address);
    let waiting = false;
    const probes: Promise<void>[] = [];
    for (const w of wanted) {
      const key = replicaKey(w.service, w.replica);
      const port = httpPort(w);
      const c = pickContainer(w, groups.get(key) ?? []);
      const hostPort = port === undefined ? undefined : c?.ports[String(port)];
      if (!c?.running || hostPort === undefined || !settled(key)) continue;
      const ready = this.#memory.get(key)?.ready === c.id;
      if (ready && now - (this.#lastProbe.get(key) ?? 0) < this.#resyncMs) continue;
      probes.push(
        this.#probe(hostPort, host).then((ok) => {
          this.#lastProbe.set(key, now);
          const mem = this.#memory.get(key) ?? freshMemory(w.generation);
          this.#memory.set(key, { ...mem, ready: ok ? c.id : undefined });
          if (!ok) waiting = true;
        }),
      );
    }
    await Promise.all(probes);
    return waiting;
  }

  /**
   * Notes which replicas without a container must wait for their dependencies (`depends_on`):
   * their create is held back and their status says what they wait for.
   */
  #gate(wanted: WantedReplica[], actual: Observed[]): boolean {
    if (!this.#o.waitFor) return false;
    const groups = byReplica(actual);
    let any = false;
    for (const w of wanted) {
      if (!w.spec.dependsOn?.length) continue;
      const key = replicaKey(w.service, w.replica);
      const has = (groups.get(key) ?? []).length > 0;
      const waiting = has ? undefined : this.#o.waitFor(w.spec);
      const mem = this.#memory.get(key) ?? freshMemory(w.generation);
      if (mem.waiting !== waiting) this.#memory.set(key, { ...mem, waiting });
      any ||= waiting !== undefined;
    }
    return any;
  }

  /**
   * Looks for an HTTP port among the `detectHttp` ports of running replicas: every pass until
   * one answers HTTP or DETECT_TRIES passes found none (a slow app gets a couple of minutes).
   */
  async #detectAll(
    wanted: WantedReplica[],
    actual: Observed[],
    settled: (key: string) => boolean,
  ): Promise<void> {
    const groups = byReplica(actual);
    const host = probeHost(this.#o.address);
    const searches: Promise<void>[] = [];
    for (const w of wanted) {
      const key = replicaKey(w.service, w.replica);
      const ports = w.spec.ports.filter((p) => p.detectHttp);
      const c = pickContainer(w, groups.get(key) ?? []);
      if (!ports.length || !c?.running || !settled(key)) continue;
      const web = this.#memory.get(key)?.web;
      const mine = web?.container === c.id ? web : { container: c.id, tries: 0 };
      if (mine.port !== undefined || mine.tries >= DETECT_TRIES) continue;
      searches.push((async () => {
        // At once and a few only: a pass waits for this, and a range of silent ports one after
        // the other would hold every replica of the node for a minute.
        const tried = ports.slice(0, DETECT_PORTS);
        const answers = await Promise.all(tried.map((p) => {
          const hostPort = c.ports[portKey(p)];
          return hostPort ? this.#detect(hostPort, host) : Promise.resolve(false);
        }));
        const found = tried.find((_, i) => answers[i])?.container;
        const mem = this.#memory.get(key) ?? freshMemory(w.generation);
        this.#memory.set(key, {
          ...mem,
          web: { container: c.id, tries: mine.tries + 1, ...(found ? { port: found } : {}) },
        });
      })());
    }
    await Promise.all(searches);
  }

  /** Starts the steps of each replica as one task; a replica with steps under way is skipped. */
  #launch(actions: Action[]): void {
    const byKey = new Map<string, Action[]>();
    for (const a of actions) byKey.set(a.key, [...(byKey.get(a.key) ?? []), a]);
    for (const [key, steps] of byKey) {
      this.#busy.add(key);
      const task = this.#perform(key, steps)
        .catch((err) => this.#log.error("step failed", { replica: key, error: errorMessage(err) }))
        .finally(() => {
          this.#busy.delete(key);
          this.#doneSeq.set(key, ++this.#seq);
          this.#tasks.delete(task);
          this.#kick();
        });
      this.#tasks.add(task);
    }
  }

  async #perform(key: string, steps: Action[]): Promise<void> {
    const signal = this.#signal();
    try {
      for (const a of steps) {
        if (signal.aborted) return;
        if (a.kind === "create") await this.#create(key, a.wanted);
        else if (a.kind === "start") await this.#start(key, a);
        else if (a.kind === "remove") await this.#remove(a);
        else if (a.kind === "stop") await this.#stopUnhealthy(a);
        else await this.#forget(a);
      }
      this.#updateMemory(key, (m) => ({ ...m, failure: undefined }));
    } catch (err) {
      // Cancelled by stop(): not a failure of the replica, and nothing is left to back off.
      if (signal.aborted) this.#log.info("step cancelled by stop", { replica: key });
      else this.#fail(key, err);
    }
  }

  /** The signal stop() aborts; a never-aborting one before start. */
  #signal(): AbortSignal {
    return this.#halt?.signal ?? new AbortController().signal;
  }

  /**
   * Runs one Docker call with the stop signal, and lets go of it the moment stop() aborts even
   * if the DockerApi does not notice the signal.
   */
  #call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.#signal();
    return untilAborted(fn(signal), signal, what);
  }

  #updateMemory(key: string, f: (m: ReplicaMemory) => ReplicaMemory): void {
    const mem = this.#memory.get(key);
    if (mem) this.#memory.set(key, f(mem));
  }

  /** Records a failed step: its message is shown, and the replica waits before trying again. */
  #fail(key: string, err: unknown): void {
    const message = errorMessage(err);
    const mem = this.#memory.get(key);
    const count = (mem?.failure?.count ?? 0) + 1;
    const retryAt = this.#now() + backoff(count - 1);
    this.#log.warn("step failed, will retry", {
      replica: key,
      error: message,
      retryInMs: retryAt - this.#now(),
    });
    if (mem) {
      this.#memory.set(key, { ...mem, pulling: false, failure: { message, count, retryAt } });
    }
  }

  async #create(key: string, w: WantedReplica): Promise<void> {
    const docker = this.#o.docker;
    const image = w.spec.image;
    const platform = w.spec.container?.platform;
    if (!(await this.#call("docker image inspect", (s) => docker.hasImage(image, s, platform)))) {
      this.#updateMemory(key, (m) => ({ ...m, pulling: true }));
      await this.#publish(key, describe(w, undefined, this.#memory.get(key)));
      this.#log.info("pulling image", { replica: key, image });
      try {
        await this.#call("docker pull", (s) => docker.pull(image, s, platform));
      } finally {
        this.#updateMemory(key, (m) => ({ ...m, pulling: false }));
      }
    }
    const labels = { [LABEL.managed]: "true", [LABEL.service]: w.service };
    for (const v of w.spec.volumes) {
      const name = volumeName(w.spec, v);
      await this.#call("docker volume create", (s) => docker.ensureVolume(name, labels, s));
    }
    const id = await this.#createContainer(w);
    this.#log.info("starting container", { replica: key, generation: w.generation, id });
    await this.#call("docker start", (s) => docker.start(id, s));
  }

  /** Creates the container; a name left behind by a crash is adopted if it is ours, else removed. */
  async #createContainer(w: WantedReplica): Promise<string> {
    const docker = this.#o.docker;
    const name = containerName(w, this.#o.nodeId);
    const files = await this.#o.files?.prepare(w.spec, w.replica) ?? [];
    const binds = [...w.spec.binds ?? [], ...files];
    const options: CreateOptions = {
      name,
      image: w.spec.image,
      cmd: w.spec.command,
      env: w.spec.env,
      labels: containerLabels(w, this.#o.nodeId),
      ports: w.spec.ports.map((p) => ({
        container: p.container,
        protocol: p.protocol,
        // A stack's container-only port is reached through the stack's network, not the LAN.
        ...(w.spec.stack && !p.http && p.published === undefined ? { internal: true } : {}),
      })),
      hostIp: this.#o.address,
      mounts: w.spec.volumes.map((v) => ({
        volume: volumeName(w.spec, v),
        path: v.path,
        ...(v.readOnly ? { readOnly: true } : {}),
      })),
      ...(w.spec.healthcheck ? { healthcheck: w.spec.healthcheck } : {}),
      ...(binds.length ? { binds } : {}),
      ...(w.spec.devices ? { devices: w.spec.devices } : {}),
      ...(w.spec.hostNetwork ? { hostNetwork: true } : {}),
      ...(w.spec.container ? { container: w.spec.container } : {}),
    };
    const attach = this.#o.attach;
    // A container in the node's network namespace joins no network.
    if (w.spec.stack && attach && !w.spec.hostNetwork) {
      Object.assign(options, await this.#call("stack network", (s) => attach(w.spec, s)));
    }
    const create = () => this.#call("docker create", (s) => docker.create(options, s));
    try {
      return await create();
    } catch (err) {
      if (!(err instanceof DockerError && err.status === 409)) throw err;
      const old = await this.#call("docker inspect", (s) => docker.inspect(name, s));
      if (!old || !ownedBy(old, this.#o.nodeId)) {
        throw new Error(
          `container name ${name} is taken by a container fossora node ${this.#o.nodeId} does not manage: remove or rename it (docker rm -f ${name})`,
        );
      }
      const same = parseObserved(old);
      if (
        same && same.service === w.service && same.replica === w.replica &&
        same.generation === w.generation
      ) {
        return old.id;
      }
      this.#log.warn("removing leftover container", { name, id: old.id });
      await this.#call("docker rm", (s) => docker.remove(old.id, s));
      return await create();
    }
  }

  async #start(key: string, a: Extract<Action, { kind: "start" }>): Promise<void> {
    this.#log.info(a.restart ? "restarting exited container" : "starting container", {
      replica: key,
      id: a.container,
    });
    await this.#call("docker start", (s) => this.#o.docker.start(a.container, s));
    if (a.restart) {
      this.#updateMemory(key, (m) => ({ ...m, restarts: m.restarts + 1, crashes: a.crashes }));
    }
  }

  /** The container's own grace period (its service's `stopGracePeriod`), else the node's. */
  #grace(a: { grace?: number }): number {
    return a.grace ?? this.#o.stopGraceSeconds ?? 10;
  }

  async #stopUnhealthy(a: Extract<Action, { kind: "stop" }>): Promise<void> {
    this.#log.warn("stopping an unhealthy container; it restarts", {
      replica: a.key,
      id: a.container,
      check: a.reason,
    });
    const grace = this.#grace(a);
    await this.#call("docker stop", (s) => this.#o.docker.stop(a.container, grace, s));
  }

  async #remove(a: Extract<Action, { kind: "remove" }>): Promise<void> {
    this.#log.info("removing container", { replica: a.key, id: a.container, reason: a.reason });
    await this.#withdraw(a.key, a.container);
    const grace = this.#grace(a);
    await this.#call("docker stop", (s) => this.#o.docker.stop(a.container, grace, s));
    await this.#call("docker rm", (s) => this.#o.docker.remove(a.container, s));
  }

  /**
   * Before a ready container stops, says it is not ready and waits `withdrawMs`: every node's
   * proxy takes it out of its routing first, so no request is sent to a container going away.
   */
  async #withdraw(key: string, container: string): Promise<void> {
    const current = this.#current.get(key);
    if (!current?.ready || current.containerId !== container) return;
    const { node: _n, address: _a, since: _s, ...observed } = current;
    this.#updateMemory(key, (m) => ({ ...m, ready: undefined }));
    await this.#publish(key, { ...observed, ready: false });
    await this.#sleep(this.#o.withdrawMs ?? 1000);
  }

  async #forget(a: Extract<Action, { kind: "forget" }>): Promise<void> {
    // After its last report, which would otherwise write the status back.
    await this.#reports.get(a.key);
    await this.#o.forget(a.service, a.replica);
    await this.#o.files?.release(a.service, a.replica);
    this.#memory.delete(a.key);
    this.#current.delete(a.key);
    this.#reported.delete(a.key);
    this.#lastProbe.delete(a.key);
    this.#doneSeq.delete(a.key);
  }

  /**
   * Records the replica's status and reports it unless it is the one last reported. Reports of
   * one replica go out in the order they were made, so a pass need not wait for its own before
   * acting.
   */
  #publish(key: string, obs: Observation): Promise<void> {
    const last = this.#current.get(key);
    const status: ReplicaStatus = {
      ...obs,
      node: this.#o.nodeId,
      address: this.#o.address,
      since: last?.state === obs.state ? last.since : new Date(this.#now()).toISOString(),
    };
    this.#current.set(key, status);
    const send = async () => {
      const reported = this.#reported.get(key);
      if (reported && sameStatus(reported, obs)) return;
      try {
        await this.#o.report(status);
        this.#reported.set(key, status);
      } catch (err) {
        this.#log.warn("report failed, will retry", { replica: key, error: errorMessage(err) });
      }
    };
    const sent = (this.#reports.get(key) ?? Promise.resolve()).then(send);
    this.#reports.set(key, sent);
    void sent.then(() => {
      if (this.#reports.get(key) === sent) this.#reports.delete(key);
    });
    return sent;
  }

  #schedule(at: number): void {
    if (this.#timer !== undefined) this.#clearTimer(this.#timer);
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      this.#kick();
    }, Math.max(0, at - this.#now()));
  }

  /** Follows Docker's event stream, reconnecting with backoff; every event asks for a pass. */
  async #watchEvents(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (this.#running) {
      const opened = this.#now();
      try {
        const events = await this.#o.docker.events(ownerLabels(this.#o.nodeId), signal);
        // Whatever happened while disconnected was missed: look now.
        this.#kick();
        for await (const ev of events) {
          // A health check runs as an exec every interval; only its verdict matters here.
          if (!ev.action.startsWith("exec_")) this.#kick();
        }
        if (!this.#running) return;
        this.#log.warn("docker event stream ended, reconnecting");
      } catch (err) {
        if (!this.#running) return;
        this.#log.warn("docker event stream failed, reconnecting", { error: errorMessage(err) });
      }
      failures = this.#now() - opened >= HEALTHY_RUN_MS ? 0 : failures + 1;
      await this.#sleep(backoff(failures - 1));
    }
  }

  /** Waits `ms` on the injected timer, or until stop. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#wakers.delete(done);
        this.#clearTimer(id);
        resolve();
      };
      const id = this.#setTimer(done, ms);
      this.#wakers.add(done);
    });
  }
}
