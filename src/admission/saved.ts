/**
 * What a node remembers of its place in the cluster (`DATA_DIR/membership.json`), so that after a
 * restart or a reboot it comes back as itself: a voter restarts its etcd member, a worker
 * reconnects to the voters. A node without the file has not joined anything yet.
 * @module
 */
import { readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import type { Role } from "./types.ts";

/** This node's membership. */
export interface SavedMembership {
  cluster: string;
  role: Role;
  /** This node founded the cluster (it made the CA). */
  founder: boolean;
  /** The voters' etcd client URLs as last known (a worker's way in). */
  clientUrls: string[];
  /** A voter admitted by the leader: etcd's `--initial-cluster` for its first start. */
  initialCluster?: string;
  /** The heartbeat and election timeout its member was last tuned to (ms), for the next start. */
  etcdTiming?: { heartbeatMs: number; electionMs: number };
}

function path(dataDir: string): string {
  return `${dataDir}/membership.json`;
}

/** The saved membership, or undefined when the node never joined or founded a cluster. */
export async function loadMembership(dataDir: string): Promise<SavedMembership | undefined> {
  const text = await readTextFileIfExists(path(dataDir));
  if (text === undefined) return undefined;
  let m: SavedMembership;
  try {
    m = JSON.parse(text);
  } catch {
    throw new Error(
      `${path(dataDir)} is not JSON: restore it from a backup, or remove it and the etcd ` +
        "directory beside it to join a cluster anew",
    );
  }
  if (
    typeof m?.cluster !== "string" || (m.role !== "voter" && m.role !== "worker") ||
    !Array.isArray(m.clientUrls)
  ) {
    throw new Error(`${path(dataDir)} is not a membership record: restore it from a backup`);
  }
  return m;
}

/** Saves the membership atomically (0600: it names the cluster's members). */
export async function saveMembership(dataDir: string, m: SavedMembership): Promise<void> {
  await writeFileAtomic(path(dataDir), JSON.stringify(m, null, 2) + "\n", { mode: 0o600 });
}
