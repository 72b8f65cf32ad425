/**
 * The parts of a node that need the etcd client (etcd3, gRPC): loading it takes as long as all
 * of the servers, and it blocks the event loop while it loads. The agent imports this module
 * once its etcd member is up, so that after a restart the proxy and DNS answer from the
 * snapshot without waiting for it, and do not stall on it in their first second either.
 * @module
 */
import { BrokenCircuitError } from "cockatiel";
import { EtcdError } from "etcd3";
import { ApiError } from "../api/mod.ts";
import { ConflictError } from "../state/mod.ts";

export {
  connectEtcd,
  EtcdTuner,
  measurePeers,
  otherPeerUrls,
  tlsHandshakeProbe,
  updatePeerUrl,
} from "../etcd/mod.ts";
export { dockerArch, NodePublisher } from "../membership/mod.ts";
export { Scheduler } from "../scheduler/mod.ts";
export { parseServiceFile, publishedPortConflicts } from "../spec/mod.ts";
export { families, LeaderElection, LeasedRecords, LeaseLock, Mirror, Store } from "../state/mod.ts";

/** Turns etcd's failures into an answer that says what happened and what to do. */
export async function etcdCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ConflictError) throw new ApiError(409, "conflict", err.message);
    if (err instanceof EtcdError || err instanceof BrokenCircuitError) {
      throw new ApiError(
        503,
        "etcd_unavailable",
        `the cluster state (etcd) did not answer: ${err.message}; try again in a few seconds`,
      );
    }
    throw err;
  }
}
