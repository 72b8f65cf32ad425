/**
 * Finding which candidate addresses run a fossora agent: each is asked
 * `GET http://ADDR:PORT/api/v1/health`, which every agent answers without a token with
 * `{ready, node}`. Candidates come from the tailnet or the LAN, so whatever answers is read as
 * hostile: small bodies only, a strict shape, a deadline per address, a bounded number at once.
 * @module
 */
import { BodyTooLarge, jsonObject, readBoundedBody } from "./body.ts";
import { isIPv4 } from "./tailscale.ts";
import { isDnsLabel } from "../util/names.ts";

/** What a fossora agent's health endpoint says about it. */
export interface FossoraHealth {
  /** The node's name (`--name`). */
  node: string;
  /** Whether the agent is ready (200) or still starting or degraded (503). */
  ready: boolean;
}

/** An address that answered as fossora. */
export interface FoundAgent extends FossoraHealth {
  address: string;
}

/**
 * Asks one address whether a fossora agent serves its API on `port`: the health it reported,
 * or undefined for anything else. Must stop when `signal` aborts.
 */
export type HealthProbe = (
  address: string,
  port: number,
  signal: AbortSignal,
) => Promise<FossoraHealth | undefined>;

/** Options of {@link probeFossora}. */
export interface ProbeOptions {
  /** Most probes at once; default 8. */
  concurrency?: number;
  /** Longest wait for one address; default 2000 ms. */
  timeoutMs?: number;
  /** Stops the whole search; the call then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Largest health answer read: the real one is a few dozen bytes. */
export const MAX_HEALTH_BYTES = 4096;

/**
 * The addresses among `addresses` whose port `apiPort` answers as a fossora agent, in the order
 * given, with what each said. At most `concurrency` probes run at once and each gets
 * `timeoutMs`; one that is slow, refuses or answers something else is left out.
 * @example
 * ```ts
 * const found = await probeFossora(tailnetCandidates(status), 7440, httpHealthProbe, { signal });
 * ```
 */
export async function probeFossora(
  addresses: readonly string[],
  apiPort: number,
  probe: HealthProbe,
  options: ProbeOptions = {},
): Promise<FoundAgent[]> {
  const { concurrency = 8, timeoutMs = 2_000, signal } = options;
  if (!Number.isInteger(apiPort) || apiPort < 1 || apiPort > 65535) {
    throw new RangeError(`apiPort must be a port number (1..65535), got ${apiPort}`);
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`timeoutMs must be a positive number of ms, got ${timeoutMs}`);
  }
  signal?.throwIfAborted();
  const results: (FoundAgent | undefined)[] = new Array(addresses.length);
  let next = 0;
  const worker = async () => {
    while (next < addresses.length) {
      signal?.throwIfAborted();
      const i = next++;
      const health = await probeOne(addresses[i], apiPort, probe, timeoutMs, signal);
      if (health) results[i] = { address: addresses[i], node: health.node, ready: health.ready };
    }
  };
  const workers = Array.from({ length: Math.min(concurrency, addresses.length) }, worker);
  await Promise.all(workers);
  return results.filter((r): r is FoundAgent => r !== undefined);
}

/** One probe under its own deadline; it cannot outlive the deadline even if it ignores it. */
async function probeOne(
  address: string,
  port: number,
  probe: HealthProbe,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<FossoraHealth | undefined> {
  const ctl = new AbortController();
  const stop = () => ctl.abort(outer?.reason);
  outer?.addEventListener("abort", stop, { once: true });
  const timer = setTimeout(
    () => ctl.abort(new DOMException(`${address} did not answer in time`, "TimeoutError")),
    timeoutMs,
  );
  const aborted = new Promise<never>((_, reject) => {
    ctl.signal.addEventListener("abort", () => reject(ctl.signal.reason), { once: true });
  });
  aborted.catch(() => {}); // settled by the race or never looked at
  try {
    return await Promise.race([probe(address, port, ctl.signal), aborted]);
  } catch (err) {
    if (outer?.aborted) throw outer.reason;
    void err; // refused, reset, slow or garbled: not a fossora agent for now
    return undefined;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", stop);
    if (!ctl.signal.aborted) ctl.abort(); // lets a probe that is still going stop
  }
}

/**
 * The real {@link HealthProbe}: `GET /api/v1/health` over HTTP, accepting 200 or 503 with a
 * JSON body `{"ready": bool, "node": "<dns label>"}` of at most {@link MAX_HEALTH_BYTES}; no
 * redirects followed, no connection kept.
 */
export async function httpHealthProbe(
  address: string,
  port: number,
  signal: AbortSignal,
): Promise<FossoraHealth | undefined> {
  const host = isIPv4(address) ? address : `[${address}]`;
  // A client of its own, closed after, so no connection to a stranger stays pooled.
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const res = await fetch(`http://${host}:${port}/api/v1/health`, {
    client,
    signal,
    redirect: "manual",
    headers: { accept: "application/json" },
  });
  if (res.status !== 200 && res.status !== 503) {
    await res.body?.cancel().catch(() => {});
    return undefined;
  }
  let body: Uint8Array;
  try {
    body = await readBoundedBody(res, MAX_HEALTH_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) return undefined;
    throw err;
  }
  return readHealth(body, res.status);
}

/** The health in `body`, when it is fossora's and agrees with the status code. */
export function readHealth(body: Uint8Array, status: number): FossoraHealth | undefined {
  const json = jsonObject(body);
  if (!json) return undefined;
  const { ready, node } = json;
  if (typeof ready !== "boolean" || typeof node !== "string" || !isDnsLabel(node)) {
    return undefined;
  }
  if (ready !== (status === 200)) return undefined;
  return { node, ready };
}
