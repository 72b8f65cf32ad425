/**
 * The container runtime of one node: brings the local Docker engine to the wanted replicas and
 * reports each replica's status. The caller feeds `setWanted` (from this node's assignments) and
 * writes what `report`/`forget` hand it; the runtime never touches etcd.
 * @module
 */
export {
  DEFAULT_LOG_TAIL,
  NoContainerError,
  Runtime,
  type RuntimeOptions,
  type TimerId,
} from "./runtime.ts";
export { CancelledError } from "./abort.ts";
export type { WantedReplica } from "./labels.ts";
export {
  type ContainerState,
  createDockerApi,
  type CreateOptions,
  type DockerApi,
  DockerError,
  type DockerEvent,
  type DockerTimeouts,
  LOG_CONFIG,
  type LogOptions,
} from "./docker.ts";
export { type Probe, tcpProbe } from "./probe.ts";
export { demuxLogs } from "./logs.ts";
export { type FenceWatchdog, startFenceWatchdog, watchdogScript } from "./watchdog.ts";
export { MountedFiles, type ReadStackFile } from "./files.ts";
export { dependencyWait } from "./depends.ts";
