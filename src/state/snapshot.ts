/**
 * The routing state on disk: what the cluster view serves (services, replicas, nodes), saved
 * beside the node's data so that after a restart the proxy and DNS answer from it at once,
 * seconds before etcd is up and the mirror has read it. A snapshot is only ever a stand-in: the
 * mirror's first full read replaces it.
 * @module
 */
import { readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import type {
  ClusterInfo,
  NodeRecord,
  PlacementProblem,
  ReplicaStatus,
  ServiceRecord,
} from "./types.ts";
import { MemoryView } from "./view.ts";

/** Bumped when the file's shape changes; a file of another version is ignored. */
export const SNAPSHOT_VERSION = 1;

/** The routing state as it is written to disk. */
export interface SnapshotState {
  info?: ClusterInfo;
  services: ServiceRecord[];
  replicas: ReplicaStatus[];
  nodes: NodeRecord[];
  placement: PlacementProblem[];
}

/** The snapshot file's content. */
export interface SnapshotFileContent {
  version: number;
  /** When it was written (ISO 8601). */
  savedAt: string;
  state: SnapshotState;
}

/** Where snapshots are kept; {@link snapshotFile} is the real one. */
export interface SnapshotStorage {
  /** The last saved text, or undefined when none was ever saved. */
  read(): Promise<string | undefined>;
  /** Replaces the saved text whole, or throws leaving the old one. */
  write(text: string): Promise<void>;
}

/** A snapshot kept in one file, replaced atomically, readable by root only (mode 0600). */
export function snapshotFile(path: string): SnapshotStorage {
  return {
    read: () => readTextFileIfExists(path),
    write: (text) => writeFileAtomic(path, text, { mode: 0o600 }),
  };
}

/** The routing state of a view, in a stable order so equal states give equal text. */
export function captureState(view: MemoryView): SnapshotState {
  return {
    info: view.info,
    services: view.services(),
    replicas: [...view.replicaMap.values()].sort((a, b) =>
      a.service.localeCompare(b.service) || a.replica - b.replica ||
      a.node.localeCompare(b.node)
    ),
    nodes: view.nodes(),
    placement: view.placementProblems().sort((a, b) => a.service.localeCompare(b.service)),
  };
}

/** The file's text for a state. */
export function encodeSnapshot(state: SnapshotState, savedAt: Date): string {
  return snapshotText(JSON.stringify(state), savedAt);
}

/** The file's text around a state already in JSON, so the writer serializes the state once. */
function snapshotText(stateJson: string, savedAt: Date): string {
  const head: Omit<SnapshotFileContent, "state"> = {
    version: SNAPSHOT_VERSION,
    savedAt: savedAt.toISOString(),
  };
  return `${JSON.stringify(head).slice(0, -1)},"state":${stateJson}}`;
}

/** Thrown by {@link decodeSnapshot} when the text is not a snapshot this version can serve. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

/**
 * A view filled from a snapshot's text. Every record the proxy and DNS read is checked, because
 * a bad record would otherwise surface as a crash in the middle of a request.
 */
export function decodeSnapshot(text: string): { view: MemoryView; savedAt: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SnapshotError(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) throw new SnapshotError("not a JSON object");
  if (raw.version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(`version ${JSON.stringify(raw.version)}, expected ${SNAPSHOT_VERSION}`);
  }
  const state = raw.state;
  if (!isObject(state)) throw new SnapshotError("no state");
  const view = new MemoryView();
  for (const [i, s] of list(state, "services").entries()) {
    const problem = serviceProblem(s);
    if (problem) throw new SnapshotError(`services[${i}] ${problem}`);
    view.serviceMap.set((s as ServiceRecord).spec.name, s as ServiceRecord);
  }
  for (const [i, r] of list(state, "replicas").entries()) {
    const problem = replicaProblem(r);
    if (problem) throw new SnapshotError(`replicas[${i}] ${problem}`);
    view.putReplica(r as ReplicaStatus);
  }
  for (const [i, n] of list(state, "nodes").entries()) {
    const problem = nodeProblem(n);
    if (problem) throw new SnapshotError(`nodes[${i}] ${problem}`);
    view.nodeMap.set((n as NodeRecord).id, n as NodeRecord);
  }
  for (const [i, p] of list(state, "placement").entries()) {
    if (!isObject(p) || typeof p.service !== "string" || typeof p.reason !== "string") {
      throw new SnapshotError(`placement[${i}] is not a placement problem`);
    }
    view.placementMap.set(p.service, p as unknown as PlacementProblem);
  }
  if (state.info !== undefined) {
    if (!isObject(state.info) || typeof state.info.domain !== "string") {
      throw new SnapshotError("info is not the cluster's info");
    }
    view.info = state.info as unknown as ClusterInfo;
  }
  return { view, savedAt: typeof raw.savedAt === "string" ? raw.savedAt : "unknown" };
}

/**
 * Reads the saved snapshot into a view. A missing file gives undefined; so does a corrupt or
 * unreadable one, after a warning: a snapshot only makes start-up faster, it never stops it.
 */
export async function loadSnapshot(
  storage: SnapshotStorage,
  log: Logger = silentLogger,
): Promise<MemoryView | undefined> {
  let text: string | undefined;
  try {
    text = await storage.read();
  } catch (err) {
    log.warn("ignoring the state snapshot: it cannot be read", { err });
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const { view, savedAt } = decodeSnapshot(text);
    log.info("serving the last known state from the snapshot until etcd answers", {
      savedAt,
      services: view.serviceMap.size,
      replicas: view.replicaMap.size,
    });
    return view;
  } catch (err) {
    if (!(err instanceof SnapshotError)) throw err;
    log.warn("ignoring the state snapshot: it is corrupt; it is rewritten once etcd answers", {
      problem: err.message,
    });
    return undefined;
  }
}

/** A timer handle, as setTimeout returns it. */
export type SnapshotTimer = ReturnType<typeof setTimeout>;

/** Options of a {@link SnapshotWriter}. */
export interface SnapshotWriterOptions {
  storage: SnapshotStorage;
  /** The live state; read when a write happens, so the newest state is what is saved. */
  source: () => MemoryView;
  log?: Logger;
  /** Least time between two writes, in ms (default 1000): the mirror can change many times a second. */
  intervalMs?: number;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
  /** Default setTimeout. */
  setTimer?: (fn: () => void, ms: number) => SnapshotTimer;
  /** Default clearTimeout. */
  clearTimer?: (id: SnapshotTimer) => void;
}

/**
 * Saves the live state after it changes, at most once an interval, and once more on stop. A
 * state equal to the one last saved is not written again (the mirror's periodic full read
 * reports a change even when nothing changed). A failed write is logged and retried after the
 * interval.
 */
export class SnapshotWriter {
  readonly #o: SnapshotWriterOptions;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => SnapshotTimer;
  readonly #clearTimer: (id: SnapshotTimer) => void;
  #dirty = false;
  #stopped = false;
  #timer: SnapshotTimer | undefined;
  #writing: Promise<void> | undefined;
  #lastWriteAt = -Infinity;
  #lastState: string | undefined;
  #failing = false;

  constructor(o: SnapshotWriterOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#intervalMs = o.intervalMs ?? 1000;
    this.#now = o.now ?? Date.now;
    this.#setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = o.clearTimer ?? ((id) => clearTimeout(id));
  }

  /** Notes that the live state changed; it is saved within the interval. */
  changed(): void {
    if (this.#stopped) return;
    this.#dirty = true;
    this.#schedule();
  }

  /** Saves a pending change now and stops saving; resolves once the file is written. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clearTimer(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    if (this.#dirty) await this.#write();
  }

  #schedule(): void {
    // A write under way schedules the next one when it ends.
    if (this.#timer !== undefined || this.#writing) return;
    const wait = Math.max(0, this.#lastWriteAt + this.#intervalMs - this.#now());
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      void this.#write();
    }, wait);
  }

  #write(): Promise<void> {
    if (!this.#dirty) return Promise.resolve();
    this.#dirty = false;
    this.#lastWriteAt = this.#now();
    const state = JSON.stringify(captureState(this.#o.source()));
    if (state === this.#lastState) return Promise.resolve();
    const text = snapshotText(state, new Date(this.#lastWriteAt));
    this.#writing = this.#o.storage.write(text).then(
      () => {
        this.#lastState = state;
        if (this.#failing) this.#log.info("state snapshot saved again");
        this.#failing = false;
      },
      (err) => {
        if (!this.#failing) this.#log.warn("cannot save the state snapshot; will retry", { err });
        this.#failing = true;
        this.#dirty = true;
      },
    ).finally(() => {
      this.#writing = undefined;
      if (this.#dirty && !this.#stopped) this.#schedule();
    });
    return this.#writing;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function list(state: Record<string, unknown>, key: string): unknown[] {
  const v = state[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new SnapshotError(`${key} is not a list`);
  return v;
}

function serviceProblem(s: unknown): string | undefined {
  if (!isObject(s) || !isObject(s.spec)) return "is not a service";
  if (typeof s.spec.name !== "string") return "has no name";
  if (!Number.isInteger(s.generation)) return "has no generation";
  if (!Array.isArray(s.spec.ports) || !s.spec.ports.every(isObject)) return "has no port list";
  return undefined;
}

function replicaProblem(r: unknown): string | undefined {
  if (!isObject(r)) return "is not a replica";
  if (typeof r.service !== "string" || typeof r.node !== "string") return "has no service or node";
  if (!Number.isInteger(r.replica)) return "has no replica index";
  if (typeof r.state !== "string" || typeof r.ready !== "boolean") return "has no state";
  if (typeof r.address !== "string") return "has no address";
  if (!isObject(r.ports) || !Object.values(r.ports).every(Number.isInteger)) {
    return "has no port map";
  }
  return undefined;
}

function nodeProblem(n: unknown): string | undefined {
  if (!isObject(n)) return "is not a node";
  for (const key of ["id", "name", "address"]) {
    if (typeof n[key] !== "string") return `has no ${key}`;
  }
  return undefined;
}
