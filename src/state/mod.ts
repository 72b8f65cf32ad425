/**
 * The cluster state in etcd: the keyspace, typed records, transactions, leases, elections, and an
 * in-memory mirror for readers that must keep working when etcd does not answer.
 * @module
 */
export * from "./types.ts";
export { families, ROOT } from "./keys.ts";
export { type ApplyResult, ConflictError, Store, type Versioned } from "./store.ts";
export { Mirror, type MirrorOptions } from "./mirror.ts";
export { EVENTS_KEPT, makeEvent } from "./events.ts";
export { LeasedRecords, LIVENESS_TTL_S } from "./lease.ts";
export { LeaderElection } from "./election.ts";
export { revokeLiveness } from "./revoke.ts";
export { LeaseLock, type LeaseLockOptions, type LockHolder } from "./lock.ts";
export { type ClusterView, MemoryView, SwitchView } from "./view.ts";
export {
  loadSnapshot,
  snapshotFile,
  type SnapshotStorage,
  SnapshotWriter,
  type SnapshotWriterOptions,
} from "./snapshot.ts";
export { sameContainers, type SpecChange, specChanges } from "./spec_diff.ts";
