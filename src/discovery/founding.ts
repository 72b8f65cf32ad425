/**
 * Who founds a cluster when new nodes meet with none around. A new node looks for a short window;
 * a cluster seen in that time is joined. When only other lone nodes are seen (mDNS announces a
 * node before it has a cluster), the one with the smallest node id founds and the others wait
 * for its cluster to appear and join it, so two machines switched on together end as one
 * cluster. A lone node that never founds (it is joining a cluster this node cannot see, or it
 * crashed) is waited for only so long: then this node founds, and the merge rule (merge.ts)
 * settles the two clusters if they meet later.
 * @module
 */

/** A node mDNS announced without a cluster: new, or joining one. */
export interface LoneNode {
  id: string;
  name: string;
}

/** What this node has seen so far. */
export interface FoundingView {
  /** This node's id. */
  self: string;
  /** How many candidates belong to a cluster (any of them can be joined). */
  clusters: number;
  /** The other nodes seen without a cluster. */
  lone: readonly LoneNode[];
  /** Time since this node started looking, ms. */
  elapsedMs: number;
}

/** How long to look, and how long to wait for a lone node that should found. */
export interface FoundingTimes {
  /** The discovery window, ms. */
  windowMs: number;
  /** The longest wait past the window for a lone node with a smaller id to found, ms. */
  patienceMs: number;
}

/** The next step: join a cluster seen, found one, or look a while longer (and why). */
export type FoundingStep =
  | { do: "join" }
  | { do: "found"; why: string }
  | { do: "wait"; why: string };

/**
 * The next step of a new node that has seen `v`. Pure: the caller polls it with what discovery
 * saw and the time passed.
 * @example
 * ```ts
 * foundingStep({ self: "b2", clusters: 0, lone: [{ id: "a1", name: "pi" }], elapsedMs: 4100 },
 *   { windowMs: 4000, patienceMs: 20_000 }); // { do: "wait", why: "pi (a1) founds; …" }
 * ```
 */
export function foundingStep(v: FoundingView, t: FoundingTimes): FoundingStep {
  if (v.clusters > 0) return { do: "join" };
  if (v.elapsedMs < t.windowMs) return { do: "wait", why: "looking for a cluster nearby" };
  const first = founderAmong(v.self, v.lone);
  if (!first) {
    return v.lone.length
      ? { do: "found", why: `this node has the smallest id of ${v.lone.length + 1} new nodes` }
      : { do: "found", why: "no cluster nearby" };
  }
  if (v.elapsedMs < t.windowMs + t.patienceMs) {
    return {
      do: "wait",
      why: `${first.name} (${first.id}) has the smallest id of the new nodes, so it founds; ` +
        "this node joins its cluster",
    };
  }
  return {
    do: "found",
    why: `${first.name} (${first.id}) did not found a cluster in ${
      Math.round((t.windowMs + t.patienceMs) / 1000)
    } s`,
  };
}

/** The lone node that founds, when it is not `self`: the smallest id. */
export function founderAmong(self: string, lone: readonly LoneNode[]): LoneNode | undefined {
  let first: LoneNode | undefined;
  for (const n of lone) {
    if (n.id === self) continue;
    if (n.id < self && (!first || n.id < first.id)) first = n;
  }
  return first;
}

/** What {@link decideFounding} reads and waits with; tests pass a manual clock. */
export interface FoundingLoop extends FoundingTimes {
  self: string;
  /** What discovery sees now. */
  look: () => { clusters: number; lone: readonly LoneNode[] };
  signal: AbortSignal;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Poll interval, ms; default 100. */
  everyMs?: number;
  /** Told of each new reason to wait (for the log). */
  onWait?: (why: string) => void;
}

/**
 * Polls {@link foundingStep} until it says join or found; resolves with that step. Rejects with
 * the signal's reason when it aborts.
 */
export async function decideFounding(
  o: FoundingLoop,
): Promise<Exclude<FoundingStep, { do: "wait" }>> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? sleepMs;
  const start = now();
  let said = "";
  for (;;) {
    o.signal.throwIfAborted();
    const seen = o.look();
    const step = foundingStep({ self: o.self, ...seen, elapsedMs: now() - start }, o);
    if (step.do !== "wait") return step;
    if (step.why !== said) o.onWait?.(said = step.why);
    await sleep(o.everyMs ?? 100, o.signal);
  }
}

function sleepMs(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    function abort() {
      clearTimeout(t);
      reject(signal.reason);
    }
    signal.addEventListener("abort", abort, { once: true });
  });
}
