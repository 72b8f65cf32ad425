/**
 * The forwarder's cache: upstream replies by question, kept for their TTL (capped), at most a
 * fixed number of them, the least recently used going first. The clock is injected, so expiry is
 * tested without waiting.
 * @module
 */

/** One kept value and when it stops being served, ms. */
interface Entry<T> {
  value: T;
  expires: number;
}

/** A bounded map whose entries expire; `get` refreshes an entry's place in the LRU order. */
export class TtlCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #max: number;
  readonly #now: () => number;

  /** `max` entries at most; `now` is the clock, ms. */
  constructor(max: number, now: () => number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`cache size ${max} must be above 0`);
    this.#max = max;
    this.#now = now;
  }

  /** How many entries are held (expired ones included until they are looked up or pushed out). */
  get size(): number {
    return this.#entries.size;
  }

  /** The value under `key` while it is fresh. */
  get(key: string): T | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // A Map iterates in insertion order: re-inserting makes this the most recently used.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.value;
  }

  /** Keeps `value` for `ttlMs`; nothing is kept for 0 or less. */
  set(key: string, value: T, ttlMs: number): void {
    this.#entries.delete(key);
    if (ttlMs <= 0) return;
    while (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { value, expires: this.#now() + ttlMs });
  }
}
