/**
 * Waiting that ends on abort. A Docker call handed an AbortSignal should end when it aborts, but
 * a stream phase or a DockerApi that ignores the signal would keep its caller waiting; racing
 * the call against the signal guarantees the caller is free at once.
 * @module
 */

/** The reason a call ended because its signal aborted. */
export class CancelledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CancelledError";
  }
}

/**
 * Settles like `p`, or rejects with a CancelledError naming `what` as soon as `signal` aborts.
 * A later rejection of `p` is swallowed, so an abandoned call never becomes an unhandled one.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  const cancelled = () => new CancelledError(`${what}: cancelled`);
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(cancelled());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
