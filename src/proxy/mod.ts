/**
 * The service proxy: `http://NAME.DOMAIN/` on any node reaches a ready replica of NAME, with
 * round-robin, retry of refused idempotent requests, WebSockets, and pages that say why not.
 * And published TCP ports: every node listens on each service's `published` ports and forwards
 * each connection to a live replica (`TcpForwarder`).
 * @module
 */
export { type ProxyOptions, REQUESTS_METRIC, ServiceProxy } from "./server.ts";
export {
  assignPorts,
  type PortConflict,
  type PortOwner,
  TCP_CONNECTIONS_METRIC,
  type TcpConnect,
  TcpForwarder,
  type TcpForwarderOptions,
} from "./tcp.ts";
