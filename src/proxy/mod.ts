/**
 * The service proxy: `http://NAME.DOMAIN/` on any node reaches a ready replica of NAME, with
 * round-robin, retry of refused idempotent requests, WebSockets, and pages that say why not. It
 * speaks HTTP/1.1 itself: heads parsed strictly and written anew, bodies re-framed, a deadline on
 * every wait, and a limit (with a metric) on everything a client can make it hold.
 * And published TCP ports: every node listens on each service's `published` ports and forwards
 * each connection to a live replica (`TcpForwarder`).
 * @module
 */
export {
  ListenError,
  type ProxyOptions,
  REFUSED_METRIC,
  REQUESTS_METRIC,
  ServiceProxy,
} from "./server.ts";
export { CertIssuer, type KeyPair, keyPairProblem, wantedNames } from "./certificate.ts";
export { DEFAULT_LIMITS, type ProxyLimits } from "./limits.ts";
export { TrustedProxies } from "./forwarded.ts";
export {
  assignPorts,
  type PortConflict,
  type PortOwner,
  TCP_CONNECTIONS_METRIC,
  type TcpConnect,
  TcpForwarder,
  type TcpForwarderOptions,
} from "./tcp.ts";
export { UDP_DATAGRAMS_METRIC, UdpForwarder, type UdpForwarderOptions } from "./udp.ts";
