/**
 * The cluster's DNS server: `NAME.DOMAIN` resolves to the ready nodes (each runs the proxy),
 * `NODENAME.node.DOMAIN` to one node. Answers come from the cluster view, never from etcd.
 * @module
 */
export { type DnsOptions, DnsServer, type ForwardSettings, QUERIES_METRIC } from "./server.ts";
export {
  FORWARDED_METRIC,
  UPSTREAM_FAILURES_METRIC,
  UPSTREAM_QUERIES_METRIC,
} from "./forwarder.ts";
export { parseUpstream } from "./upstreams.ts";
