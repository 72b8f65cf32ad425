/**
 * Exponential backoff with a cap, reset once things have gone well for a while.
 * @module
 */

/** Options of a {@link Backoff}. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /**
   * When the previous failure is older than this, start again from `initialMs`. Without it the
   * delay only starts over on {@link Backoff.reset}.
   */
  resetAfterMs?: number;
}

/**
 * Computes the delay before the next retry.
 * @example
 * const b = new Backoff({ initialMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 });
 * b.next(Date.now()); // 1000, then 2000, 4000 ... 30000
 */
export class Backoff {
  #delay = 0;
  #last = -Infinity;
  constructor(readonly options: BackoffOptions) {}

  /** The delay to wait after a failure at `now`. */
  next(now: number): number {
    const { initialMs, maxMs, resetAfterMs = Infinity } = this.options;
    const fresh = this.#delay === 0 || now - this.#last > resetAfterMs;
    this.#delay = fresh ? initialMs : Math.min(this.#delay * 2, maxMs);
    this.#last = now;
    return this.#delay;
  }

  /** Forgets past failures. */
  reset(): void {
    this.#delay = 0;
    this.#last = -Infinity;
  }
}
