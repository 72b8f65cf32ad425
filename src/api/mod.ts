/**
 * The HTTP API of a node (SPEC.md "HTTP API"): `createApi` builds the hono app from the agent's
 * parts, `serveApi` listens with it.
 * @module
 */
export { createApi, STALE_HEADER } from "./app.ts";
export { serveApi, type ServeOptions } from "./serve.ts";
export { TlsFront, type TlsFrontOptions, type TlsPair } from "./tls_front.ts";
export { ApiError, type ErrorBody } from "./errors.ts";
export type {
  ApiDeps,
  ControlPlane,
  DrainAnswer,
  LogOptions,
  ParseServiceFile,
  ServiceStore,
} from "./types.ts";
export type { ApplyResult } from "../state/mod.ts";
export type {
  ClusterSummary,
  MemberSummary,
  NodeSummary,
  ReplicaSummary,
  ServiceDetail,
  ServiceState,
  ServiceSummary,
} from "./summary.ts";
