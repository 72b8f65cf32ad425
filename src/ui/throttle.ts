/**
 * Slows down guessing, per client: the first few wrong passwords cost nothing, each one after
 * doubles the wait before the next try (1 s, 2 s, 4 s… up to 5 minutes). A client forgotten
 * after 15 minutes without a try starts afresh; memory is bounded by dropping the oldest.
 * @module
 */

interface Record {
  failures: number;
  last: number;
}

/** Wrong passwords per client, and how long each must wait. */
export class LoginThrottle {
  readonly #clients = new Map<string, Record>();
  readonly #now: () => number;
  readonly #free: number;
  readonly #maxDelayMs: number;
  readonly #forgetMs: number;
  readonly #maxClients: number;

  constructor(
    o: {
      now?: () => number;
      free?: number;
      maxDelayMs?: number;
      forgetMs?: number;
      maxClients?: number;
    } = {},
  ) {
    this.#now = o.now ?? Date.now;
    this.#free = o.free ?? 5;
    this.#maxDelayMs = o.maxDelayMs ?? 300_000;
    this.#forgetMs = o.forgetMs ?? 15 * 60_000;
    this.#maxClients = o.maxClients ?? 10_000;
  }

  /** How long `client` must still wait before its next try, ms; 0 when it may try now. */
  wait(client: string): number {
    const r = this.#clients.get(client);
    if (!r) return 0;
    const now = this.#now();
    if (now - r.last >= this.#forgetMs) {
      this.#clients.delete(client);
      return 0;
    }
    const over = r.failures - this.#free;
    if (over < 0) return 0;
    const delay = Math.min(this.#maxDelayMs, 1000 * 2 ** over);
    return Math.max(0, r.last + delay - now);
  }

  /**
   * Starts a try: 0 when `client` may try now, and the try is counted as wrong until
   * {@link succeeded} says otherwise (so tries sent at once cannot all pass before the first
   * is judged); else how long it must still wait, ms.
   */
  attempt(client: string): number {
    const wait = this.wait(client);
    if (wait === 0) this.failed(client);
    return wait;
  }

  /** Counts a wrong password. */
  failed(client: string): void {
    const r = this.#clients.get(client);
    this.#clients.delete(client);
    if (this.#clients.size >= this.#maxClients) {
      this.#clients.delete(this.#clients.keys().next().value!);
    }
    this.#clients.set(client, { failures: (r?.failures ?? 0) + 1, last: this.#now() });
  }

  /** A right password: the client starts afresh. */
  succeeded(client: string): void {
    this.#clients.delete(client);
  }
}
