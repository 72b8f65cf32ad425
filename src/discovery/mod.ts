/**
 * Discovery: where the other fossora nodes are. Static addresses (`--join`), mDNS/DNS-SD on the
 * LAN (`_fossora._tcp`), and the tailnet (tailscaled's LocalAPI, whose `whois` also says whether
 * a tokenless joiner belongs to the tailnet's owner). It only finds candidates; the join protocol
 * (src/admission/) decides whom to trust.
 * @module
 */
export { Finder, type FinderOptions } from "./finder.ts";
export {
  ForeignClusters,
  type ForeignClustersOptions,
  httpJoinInfo,
  type Peer,
} from "./foreign.ts";
export { decideFounding, type FoundingStep, foundingStep, type LoneNode } from "./founding.ts";
export {
  type ClusterFacts,
  conflictWarning,
  type ForeignCluster,
  type MergePlan,
  mergePlan,
} from "./merge.ts";
export {
  type CandidateChange,
  type MdnsCandidate,
  MdnsConfigError,
  MdnsDiscovery,
  type MdnsDiscoveryOptions,
} from "./mdns.ts";
export { httpHealthProbe, probeFossora } from "./probe.ts";
export { SplitDnsKeeper, TailscaleApi } from "./split_dns.ts";
export { DEFAULT_TAILSCALE_SOCKET, LocalApiClient, TailscaleError } from "./tailscale.ts";
export { keepTailnetCert, type TailnetCertOptions } from "./tailnet_cert.ts";
export {
  checkTailscaleTag,
  tailnetCandidates,
  tailnetJoinerTrust,
  tailscaleAdvertiseAddr,
  type TrustDecision,
} from "./tailnet.ts";
