/**
 * The nodes mDNS has seen, keyed by node id (two new nodes may share a host name such as
 * `raspberrypi`), each kept until its TTL runs out or it says goodbye. Bounded: once full, new
 * nodes are refused until entries expire, so a flood of invented nodes cannot grow memory nor
 * push out the nodes already known. Time comes in as an argument.
 * @module
 */
import type { Goodbye, Sighting } from "./mdns_records.ts";

/** A node mDNS found: an address to try the join protocol on, not a verified peer. */
export interface MdnsCandidate {
  /** Node name (its DNS-SD instance label). */
  name: string;
  /** Node id from its TXT record. */
  id: string;
  /** The cluster it is a member of; undefined while it has none. */
  clusterId?: string;
  /** Its advertise address (IPv4), from the A record. */
  address: string;
  /** Its API port, from the SRV record. */
  apiPort: number;
  /** When a packet last described it (ms since the epoch, by the injected clock). */
  seenAt: number;
  /** When it is dropped unless seen again. */
  expiresAt: number;
}

/** How the table changed. `updated` means name, address, port or cluster changed. */
export interface CandidateChange {
  kind: "added" | "updated" | "removed";
  candidate: MdnsCandidate;
}

/** Default bound on the number of candidates. */
export const DEFAULT_MAX_CANDIDATES = 256;

/** See the module doc. */
export class CandidateTable {
  readonly #byId = new Map<string, MdnsCandidate>();
  /** New nodes refused because the table was full, since creation. */
  refused = 0;

  constructor(readonly limit: number = DEFAULT_MAX_CANDIDATES) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`mdns: candidate limit ${limit} must be a positive integer`);
    }
  }

  /** Records a sighting at `now`; the change, or undefined for a refresh or a refusal. */
  see(s: Sighting, now: number): CandidateChange | undefined {
    const old = this.#byId.get(s.id);
    if (!old && this.#byId.size >= this.limit) {
      this.refused++;
      return undefined;
    }
    const c: MdnsCandidate = {
      name: s.name,
      id: s.id,
      address: s.address,
      apiPort: s.apiPort,
      seenAt: now,
      expiresAt: now + s.ttl * 1000,
    };
    if (s.clusterId !== undefined) c.clusterId = s.clusterId;
    this.#byId.set(s.id, c);
    if (!old) return { kind: "added", candidate: { ...c } };
    const same = old.name === c.name && old.address === c.address &&
      old.apiPort === c.apiPort && old.clusterId === c.clusterId;
    return same ? undefined : { kind: "updated", candidate: { ...c } };
  }

  /** Drops the node that said goodbye: by id when known, else every node of that name. */
  goodbye(g: Goodbye): CandidateChange[] {
    const gone: MdnsCandidate[] = [];
    if (g.id !== undefined) {
      const c = this.#byId.get(g.id);
      if (c) gone.push(c);
    } else {
      for (const c of this.#byId.values()) if (c.name === g.name) gone.push(c);
    }
    return this.#drop(gone);
  }

  /** Drops the nodes whose TTL has run out by `now`. */
  expire(now: number): CandidateChange[] {
    return this.#drop([...this.#byId.values()].filter((c) => c.expiresAt <= now));
  }

  /** When the next node expires, if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const c of this.#byId.values()) {
      if (next === undefined || c.expiresAt < next) next = c.expiresAt;
    }
    return next;
  }

  /** A copy of the current candidates, by name then id. */
  list(): MdnsCandidate[] {
    return [...this.#byId.values()]
      .map((c) => ({ ...c }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** Number of candidates. */
  get size(): number {
    return this.#byId.size;
  }

  /** Forgets everything (after stop). */
  clear(): void {
    this.#byId.clear();
  }

  #drop(gone: MdnsCandidate[]): CandidateChange[] {
    for (const c of gone) this.#byId.delete(c.id);
    return gone.map((c) => ({ kind: "removed", candidate: { ...c } }));
  }
}
