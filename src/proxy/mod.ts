/**
 * The service proxy: `http://NAME.DOMAIN/` on any node reaches a ready replica of NAME, with
 * round-robin, retry of refused idempotent requests, WebSockets, and pages that say why not.
 * @module
 */
export { type ProxyOptions, REQUESTS_METRIC, ServiceProxy } from "./server.ts";
