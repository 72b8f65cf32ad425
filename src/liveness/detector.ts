/**
 * Tells which peers have died from the heartbeats this node hears, a second or two after the
 * fact and without waiting for their etcd leases, which a slow link or an etcd election
 * stretches (a new etcd leader extends every lease by its whole time to live).
 *
 * A peer is called dead only when this node heard it since it last became a candidate (its node
 * record appeared) and then nothing for `deadAfterMs`, and the other nodes agree: among the
 * reports received in the last `deadAfterMs / 2`, at least one says that when it was sent its
 * sender had not heard that peer for `deadAfterMs / 2`, and none says it had. So one node whose
 * own link is bad, a peer whose heartbeats never arrive (a firewall, an older
 * agent) and a restarted peer not sending yet are left to the lease. A peer acted on is not
 * called dead again until it has been heard again: a node that lives on behind a lost link is
 * acted on once, not every few seconds.
 * @module
 */
import type { Heartbeat } from "./heartbeat.ts";

/**
 * Silence after which a peer is dead (if another node agrees): eight heartbeats in a row lost.
 * Shorter would call a busy agent dead (a pause of its event loop); longer gains little over
 * the lease.
 */
export const DEAD_AFTER_MS = 2000;

/** Options of a {@link Detector}. */
export interface DetectorOptions {
  /** This node's id: never called dead by itself. */
  self: string;
  /** Silence after which a peer is dead, if the others agree. */
  deadAfterMs: number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

/** A peer found dead, and who agreed. */
export interface Verdict {
  node: string;
  /** How long this node has not heard it. */
  silentMs: number;
  /** The nodes that have not heard it either. */
  confirmedBy: string[];
}

interface Report {
  at: number;
  heard: Record<string, number>;
}

/** What this node heard from its peers, and their opinions of each other. */
export class Detector {
  readonly #now: () => number;
  /** Peer → when it was last heard. */
  readonly #heardAt = new Map<string, number>();
  /** Peer → the last (boot, seq) accepted from it. */
  readonly #last = new Map<string, { boot: string; seq: number }>();
  /** Peer → its latest report of whom it hears. */
  readonly #reports = new Map<string, Report>();
  /** Peers acted on, not to be called dead again until heard again. */
  readonly #settled = new Set<string>();
  /** Candidate → since when it has been one without a break. */
  readonly #candidateSince = new Map<string, number>();

  constructor(readonly options: DetectorOptions) {
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Takes a heartbeat. False when it is stale (a sequence number already seen in the same
   * boot: a duplicate or a replay), or from this node.
   */
  heard(hb: Heartbeat): boolean {
    if (hb.from === this.options.self) return false;
    const last = this.#last.get(hb.from);
    if (last && last.boot === hb.boot && hb.seq <= last.seq) return false;
    const now = this.#now();
    this.#last.set(hb.from, { boot: hb.boot, seq: hb.seq });
    this.#heardAt.set(hb.from, now);
    this.#reports.set(hb.from, { at: now, heard: hb.heard });
    this.#settled.delete(hb.from);
    return true;
  }

  /** Milliseconds since each peer was last heard: what this node's heartbeats say. */
  report(): Record<string, number> {
    const now = this.#now();
    const out: Record<string, number> = {};
    for (const [id, at] of this.#heardAt) out[id] = Math.round(now - at);
    return out;
  }

  /**
   * The peers among `candidates` (the nodes with a live record) that are dead, by the rule of
   * the module. Called every round: a node missing from one call and back in the next is a new
   * candidate.
   */
  dead(candidates: Iterable<string>): Verdict[] {
    const now = this.#now();
    const out: Verdict[] = [];
    const current = new Set(candidates);
    for (const id of this.#candidateSince.keys()) {
      if (!current.has(id)) this.#candidateSince.delete(id);
    }
    for (const node of current) {
      if (!this.#candidateSince.has(node)) this.#candidateSince.set(node, now);
      if (node === this.options.self || this.#settled.has(node)) continue;
      const at = this.#heardAt.get(node);
      if (at === undefined || at < this.#candidateSince.get(node)!) continue;
      if (now - at < this.options.deadAfterMs) continue;
      // An opinion counts only while it is recent, and says what its sender saw when it sent
      // it: a report from before the silence began cannot confirm the silence (a node cut off
      // from everyone would otherwise find the others dead on the reports it last got).
      const half = this.options.deadAfterMs / 2;
      const confirmedBy: string[] = [];
      let alive = false;
      for (const [peer, r] of this.#reports) {
        if (peer === node || now - r.at > half) continue;
        const ms = r.heard[node];
        if (ms === undefined) continue;
        if (ms < half) alive = true;
        else confirmedBy.push(peer);
      }
      if (!alive && confirmedBy.length > 0) {
        out.push({ node, silentMs: Math.round(now - at), confirmedBy: confirmedBy.sort() });
      }
    }
    return out;
  }

  /**
   * Peers heard before and not for `deadAfterMs`, by this node alone: good enough to leave them
   * out of this node's own answers (DNS), not to act on for the cluster.
   */
  silent(): Set<string> {
    const now = this.#now();
    const out = new Set<string>();
    for (const [id, at] of this.#heardAt) {
      if (now - at >= this.options.deadAfterMs) out.add(id);
    }
    return out;
  }

  /** Marks a peer acted on: not dead again until it is heard again. */
  settle(node: string): void {
    this.#settled.add(node);
  }

  /** Forgets peers that are no longer members. */
  keepOnly(members: Iterable<string>): void {
    const keep = new Set(members);
    for (const map of [this.#heardAt, this.#last, this.#reports]) {
      for (const id of map.keys()) if (!keep.has(id)) map.delete(id);
    }
    for (const id of this.#settled) if (!keep.has(id)) this.#settled.delete(id);
  }
}
