/**
 * Liveness: nodes send each other heartbeats over UDP, and a node that stops is found dead by
 * its peers within seconds, without waiting for its etcd leases to run out.
 * @module
 */
export { Beacon, type BeaconOptions, HEARTBEAT_INTERVAL_MS, type PeerAddress } from "./beacon.ts";
export { DEAD_AFTER_MS, Detector, type DetectorOptions, type Verdict } from "./detector.ts";
export { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from "./heartbeat.ts";
