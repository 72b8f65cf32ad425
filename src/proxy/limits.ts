/**
 * The proxy's limits: each one a setting with a default a home cluster can live with, each refusal
 * counted in `fossora_proxy_refused_total{reason}`.
 * @module
 */

/** Limits and timeouts of the service proxy, all in bytes, counts or milliseconds. */
export interface ProxyLimits {
  /**
   * Client connections open at once. At the limit the connection idle the longest (waiting for a
   * request, or still sending its head) is closed to make room; when none is idle the new one is.
   */
  maxConnections: number;
  /** Largest request head (request line and fields); a larger one gets 431. */
  maxHeadBytes: number;
  /** Most header fields in a request or response. */
  maxHeaderFields: number;
  /** Time a client has to send a whole request head, from its first byte (slow clients). */
  headerTimeoutMs: number;
  /** Time a kept-alive client connection may wait for its next request. */
  keepAliveTimeoutMs: number;
  /** Time to open a connection to a replica; then 504 (or the next replica). */
  connectTimeoutMs: number;
  /** Time a replica has to start its answer (send its response head); then 504. */
  responseTimeoutMs: number;
  /** Time a body (up or down) may go without a byte moving; it is never cut for taking long. */
  bodyIdleTimeoutMs: number;
  /** Time an upgraded connection (WebSocket) may go without a byte moving either way. */
  tunnelIdleTimeoutMs: number;
  /** Time an unused connection to a replica is kept open for the next request. */
  upstreamIdleMs: number;
  /** Unused connections kept per replica. */
  maxIdlePerBackend: number;
  /** Size of the buffer a body is relayed through. */
  relayBufferBytes: number;
  /** Most memory in relay buffers at once; past it bodies move through small buffers, slower. */
  relayBuffersTotalBytes: number;
}

/** The defaults: close to nginx's and HAProxy's usual settings, shorter where abuse is cheap. */
export const DEFAULT_LIMITS: ProxyLimits = {
  maxConnections: 4096,
  maxHeadBytes: 32 * 1024,
  maxHeaderFields: 100,
  headerTimeoutMs: 10_000,
  keepAliveTimeoutMs: 60_000,
  connectTimeoutMs: 5_000,
  responseTimeoutMs: 60_000,
  bodyIdleTimeoutMs: 300_000,
  tunnelIdleTimeoutMs: 3_600_000,
  upstreamIdleMs: 30_000,
  maxIdlePerBackend: 64,
  relayBufferBytes: 256 * 1024,
  relayBuffersTotalBytes: 32 * 1024 * 1024,
};

/**
 * Fills in defaults and checks every limit is a positive whole number.
 * @throws {Error} naming the limit and the value.
 */
export function resolveLimits(given: Partial<ProxyLimits> = {}): ProxyLimits {
  const out = { ...DEFAULT_LIMITS, ...given };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`proxy limit ${k} must be a whole number above 0; got ${v}`);
    }
  }
  return out;
}
