/**
 * Metrics for `GET /metrics`, in Prometheus text format.
 * @module
 */
export { Counter, Gauge, Registry } from "./registry.ts";
