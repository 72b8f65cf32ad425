/**
 * The parts of a node that need the etcd client (etcd3, gRPC): loading it takes as long as all
 * of the servers, and it blocks the event loop while it loads. The agent imports this module
 * once its etcd member is up, so that after a restart the proxy and DNS answer from the
 * snapshot without waiting for it, and do not stall on it in their first second either.
 * @module
 */
import { BrokenCircuitError } from "cockatiel";
import { EtcdError, GRPCGenericError } from "etcd3";
import { ApiError } from "../api/mod.ts";
import { ConflictError } from "../state/mod.ts";

export {
  connectEtcd,
  EtcdTuner,
  measurePeers,
  otherPeerUrls,
  probeVoters,
  quorumLost,
  tlsHandshakeProbe,
  updatePeerUrl,
} from "../etcd/mod.ts";
export { dockerArch, HostPathReporter, measureUsage, NodePublisher } from "../membership/mod.ts";
export { ImagePlatforms, Scheduler } from "../scheduler/mod.ts";
export { hostPortConflicts, parseServiceFile, publishedPortConflicts } from "../spec/mod.ts";
export { families, LeaderElection, LeasedRecords, LeaseLock, Mirror, Store } from "../state/mod.ts";

/** How long an API write may wait for etcd before the answer says why it cannot be made. */
export const ETCD_CALL_TIMEOUT_MS = 5000;

/**
 * How long an API write waits before it also asks why etcd is slow (a lost quorum, say). Not
 * much less: a busy machine makes writes slow and the voters' health checks slow with them.
 */
export const ETCD_CALL_SLOW_MS = 2000;

/**
 * Turns etcd's failures into an answer that says what happened and what to do. A call that
 * fails or takes over `timeoutMs` asks `diagnose` why (the voters' quorum, say) before it
 * answers: a write without quorum would otherwise hang for the client's retries, then say 500.
 * A call still pending after `slowMs` asks at once, and a problem found then is the answer.
 */
export async function etcdCall<T>(
  call: () => Promise<T>,
  diagnose?: () => Promise<ApiError | undefined>,
  timeoutMs = ETCD_CALL_TIMEOUT_MS,
  slowMs = ETCD_CALL_SLOW_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let slow: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EtcdTimeout(timeoutMs)), timeoutMs);
  });
  const early = new Promise<never>((_, reject) => {
    if (!diagnose) return;
    slow = setTimeout(() => diagnose().then((why) => why && reject(why), () => {}), slowMs);
  });
  try {
    return await Promise.race([call(), late, early]);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof ConflictError) throw new ApiError(409, "conflict", err.message);
    // A dropped connection (the keepalive gives up on a voter that went away) fails as a gRPC
    // error, not an EtcdError: both mean the state could not be reached.
    if (
      err instanceof EtcdError || err instanceof GRPCGenericError ||
      err instanceof BrokenCircuitError || err instanceof EtcdTimeout
    ) {
      const why = await diagnose?.().catch(() => undefined);
      if (why) throw why;
      throw new ApiError(
        503,
        "etcd_unavailable",
        `the cluster state (etcd) did not answer: ${err.message}; try again in a few seconds`,
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
    clearTimeout(slow);
  }
}

class EtcdTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms / 1000} s`);
  }
}
