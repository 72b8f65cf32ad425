/**
 * Keeps this member's heartbeat and election timeout in step with the round trip to its peers
 * (./timing.ts), so a cluster spread over two houses does not hold elections the network did not
 * call for. Every interval it measures; a change worth a restart ({@link needsRetune}) that the
 * next measurement confirms is applied by restarting this member with the new flags, under a
 * cluster-wide lock so members restart one at a time and quorum holds.
 *
 * Each member tunes to the largest round trip to any of its peers, which bounds its round trip
 * to whichever member leads; members that see different peers' distances may run different
 * timing, each safe for itself.
 * @module
 */
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import type { PeerRtt } from "./rtt.ts";
import { type EtcdTiming, etcdTiming, needsRetune } from "./timing.ts";

/** The member being tuned: an {@link EtcdSupervisor} is one. */
export interface TunedMember {
  /** The timing it runs with. */
  readonly timing: EtcdTiming;
  /** Restarts it with `timing`; resolves once it is healthy again. */
  restartWith(timing: EtcdTiming): Promise<void>;
}

/** The cluster-wide lock members take to restart; a LeaseLock on etcd is one. */
export interface TuningLock {
  /** The release function, or undefined while another member holds the lock. */
  tryAcquire(): Promise<(() => Promise<void>) | undefined>;
}

/** Options of an {@link EtcdTuner}. */
export interface EtcdTunerOptions {
  member: TunedMember;
  /** The round trip to every other member (none for a lone member). */
  measure: () => Promise<PeerRtt[]>;
  lock: TuningLock;
  /** Between measurements, ms (default 60 s). */
  intervalMs?: number;
  /** When another member holds the lock, try again after this long (default 5 s at most). */
  lockRetryMs?: number;
  /** Told the timing after the member came back with it, for the next start of the agent. */
  onApplied?: (timing: EtcdTiming) => void | Promise<void>;
  log?: Logger;
}

/** What one round did. */
export type TuneOutcome =
  /** Nothing to go by: no peers, or a peer that did not answer (restarting then is unsafe). */
  | { kind: "skipped"; why: string }
  /** What runs is good enough. */
  | { kind: "kept"; wanted: EtcdTiming }
  /** A change is wanted; the next round must want it too. */
  | { kind: "confirming"; wanted: EtcdTiming }
  /** Another member holds the lock (it restarts now). */
  | { kind: "busy"; wanted: EtcdTiming }
  /** The member was restarted and is healthy with `timing`. */
  | { kind: "applied"; timing: EtcdTiming }
  /** The restart did not end healthy; the lock is left to run out. */
  | { kind: "failed"; timing: EtcdTiming; error: string };

/** Measures, decides and restarts; see the module's documentation. */
export class EtcdTuner {
  readonly #o: EtcdTunerOptions;
  readonly #log: Logger;
  /** What the previous round wanted, when it asked for a change. */
  #pending: EtcdTiming | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #round: Promise<TuneOutcome> | undefined;
  #stopped = false;

  constructor(options: EtcdTunerOptions) {
    this.#o = options;
    this.#log = options.log ?? silentLogger;
  }

  /** The timing the member runs with. */
  get current(): EtcdTiming {
    return this.#o.member.timing;
  }

  get #intervalMs(): number {
    return this.#o.intervalMs ?? 60_000;
  }

  /** Tunes every interval from now on; the first round comes after one interval. */
  start(): void {
    this.#stopped = false;
    this.#schedule(this.#intervalMs);
  }

  /** Stops the rounds; resolves when a round under way has ended (a restart can take a while). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      // A probe that answered nonsense must not end the agent: the round is only skipped.
      const round = this.#round = this.tune().catch((err): TuneOutcome => {
        this.#log.warn("etcd timing: round failed", { err });
        return { kind: "skipped", why: String((err as Error)?.message ?? err) };
      });
      const outcome = await round;
      this.#round = undefined;
      const retry = Math.min(this.#o.lockRetryMs ?? 5000, this.#intervalMs);
      this.#schedule(outcome.kind === "busy" ? retry : this.#intervalMs);
    }, ms);
  }

  /** One round: measure, decide, and restart the member if it is due. */
  async tune(): Promise<TuneOutcome> {
    let rtts: PeerRtt[];
    try {
      rtts = await this.#o.measure();
    } catch (err) {
      return this.#skip(`cannot list or measure the peers: ${(err as Error)?.message ?? err}`);
    }
    if (rtts.length === 0) return this.#skip("no peers");
    const failed = rtts.filter((r) => r.rttMs === undefined);
    if (failed.length) return this.#skip(failed.map((r) => r.error ?? r.url).join("; "));
    const wanted = etcdTiming(rtts.map((r) => r.rttMs!));
    const current = this.current;
    if (!needsRetune(current, wanted)) {
      this.#pending = undefined;
      return { kind: "kept", wanted };
    }
    const previous = this.#pending;
    this.#pending = wanted;
    const up = rises(current, wanted);
    const fields = { current, wanted, rttMs: roundTrips(rtts) };
    if (!previous || rises(current, previous) !== up) {
      this.#log.info("etcd timing: a change is wanted; checking again next round", fields);
      return { kind: "confirming", wanted };
    }
    // Of two rounds, the change the smaller one asks for, so one slow round does not set it.
    const pick = up ? Math.min : Math.max;
    const target = {
      heartbeatMs: pick(previous.heartbeatMs, wanted.heartbeatMs),
      electionMs: pick(previous.electionMs, wanted.electionMs),
    };
    const release = await this.#o.lock.tryAcquire().catch((err) => {
      this.#log.warn("etcd timing: cannot take the tuning lock", { err });
      return undefined;
    });
    if (!release) return { kind: "busy", wanted };
    this.#log.info("etcd timing: restarting this member with new timing", { ...fields, target });
    try {
      await this.#o.member.restartWith(target);
    } catch (err) {
      // The lock stays until its lease runs out: another restart now could cost quorum.
      const error = String((err as Error)?.message ?? err);
      this.#log.error("etcd timing: the member did not come back healthy", { target, error });
      return { kind: "failed", timing: target, error };
    }
    this.#pending = undefined;
    await release().catch((err) =>
      this.#log.warn("etcd timing: cannot release the tuning lock; it runs out by itself", { err })
    );
    this.#log.info("etcd timing: the member runs with new timing", { timing: target });
    try {
      await this.#o.onApplied?.(target);
    } catch (err) {
      this.#log.warn("etcd timing: cannot record the new timing", { err });
    }
    return { kind: "applied", timing: target };
  }

  #skip(why: string): TuneOutcome {
    this.#log.debug("etcd timing: no measurement this round", { why });
    return { kind: "skipped", why };
  }
}

function rises(current: EtcdTiming, wanted: EtcdTiming): boolean {
  return wanted.heartbeatMs > current.heartbeatMs || wanted.electionMs > current.electionMs;
}

/** Round trips by peer URL, to the tenth of a ms, for the log. */
function roundTrips(rtts: PeerRtt[]): Record<string, number> {
  return Object.fromEntries(rtts.map((r) => [r.url, Math.round(r.rttMs! * 10) / 10]));
}
