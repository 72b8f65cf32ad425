/**
 * Who this node is: its identity and secrets on disk, and its record in the cluster.
 * @module
 */
export { dockerArch, NodePublisher, type NodePublisherOptions } from "./node.ts";
export { measureUsage } from "./usage.ts";
export {
  checkHostPath,
  HostPathReporter,
  type HostPathReporterOptions,
  wantedHostPaths,
} from "./host_paths.ts";
export {
  type Identity,
  IdentityError,
  loadOrCreateIdentity,
  readSecretFile,
  writeSecretFile,
} from "./identity.ts";
