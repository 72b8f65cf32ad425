/**
 * This node's etcd member (a supervised child process), the client that talks to it, the local
 * balancer that client dials, and the certificates both use for mutual TLS.
 * @module
 */
export { type EtcdOptions, EtcdSupervisor, tlsArgs } from "./supervisor.ts";
export { connectEtcd } from "./client.ts";
export { guardHttp2Close } from "./http2_guard.ts";
export {
  type HealthFetch,
  probeVoters,
  quorumLost,
  type VoterEndpoint,
  type VoterHealth,
} from "./quorum.ts";
export { EtcdBalancer, type EtcdBalancerOptions } from "./balancer.ts";
export { otherPeerUrls, updatePeerUrl } from "./peer_url.ts";
export {
  measurePeers,
  type PeerRtt,
  type RoundTripProbe,
  tcpConnectProbe,
  tlsHandshakeProbe,
} from "./rtt.ts";
export {
  EtcdTuner,
  type EtcdTunerOptions,
  type TunedMember,
  type TuneOutcome,
  type TuningLock,
} from "./tuner.ts";
export {
  DEFAULT_TIMING,
  type EtcdTiming,
  etcdTiming,
  needsRetune,
  sameTiming,
  timingProblem,
} from "./timing.ts";
export {
  type ClusterCA,
  createClusterCA,
  ensureNodeCerts,
  ETCD_SERVER_NAME,
  installNodeCert,
  type IssuedCert,
  issueServerCert,
  loadOrCreateCA,
  newKeyAndRequest,
  type NodeCerts,
  saveCA,
  signNodeRequest,
} from "./certs.ts";
