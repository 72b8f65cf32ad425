/**
 * The etcd client of the agent.
 * @module
 */
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  wrap,
} from "cockatiel";
import { Etcd3, isRecoverableError } from "etcd3";

/**
 * Creates a client for the given client URLs; it reconnects by itself. The library's default
 * breaker stays open for 5 s after three failures, which outlasts a restarted local member by
 * far: ours probes again after 500 ms, and each call retries with backoff for about 3 s.
 */
export function connectEtcd(urls: string[]): Etcd3 {
  return new Etcd3({
    hosts: urls,
    dialTimeout: 3000,
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(5),
        }),
      global: wrap(
        retry(handleWhen(isRecoverableError), {
          maxAttempts: 6,
          backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }),
        }),
      ),
    },
  });
}
