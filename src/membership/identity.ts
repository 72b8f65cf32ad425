/**
 * This node's identity and secrets, kept in the data dir so a node rejoins as itself after a
 * restart: `node-id` (stable random id), `admin-token` (mode 0600) and `node.json` (id, name,
 * createdAt). Every write goes to a temporary file that is renamed into place, so a crash leaves
 * either the old file or the new one, never half of one.
 * @module
 */
import { createFileOnce, readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import { randomBase64Url, randomHex } from "../util/random.ts";

/** Who this node is. */
export interface Identity {
  /** 16 random hex characters, created once and kept forever. */
  id: string;
  /** The configured node name (it may change; the id does not). */
  name: string;
  /** The local admin API token, as the client commands read it from `DATA_DIR/admin-token`. */
  adminToken: string;
}

/** A problem with the identity files, with what to do about it. */
export class IdentityError extends Error {
  override name = "IdentityError";
}

/** Options for tests. */
export interface IdentityOptions {
  /** Clock for node.json's createdAt. */
  now?: () => Date;
}

interface NodeFile {
  id: string;
  name: string;
  createdAt: string;
}

const ID_RE = /^[0-9a-f]{16}$/;

/** Writes a secret atomically with mode 0600, replacing any previous content. */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  await writeFileAtomic(path, content, { mode: 0o600 });
}

/**
 * Reads a secret file's content as stored (not trimmed); undefined when it does not exist. A file
 * readable by group or others is first tightened to 0600, since it should never have been.
 */
export async function readSecretFile(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) await Deno.chmod(path, 0o600);
  return await Deno.readTextFile(path);
}

async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    const info = await Deno.stat(dataDir);
    if (!info.isDirectory) {
      throw new IdentityError(
        `identity: data dir ${dataDir} exists but is not a directory; move it away or choose another --data-dir`,
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dataDir, 0o700);
  }
}

async function loadOrCreateId(dataDir: string): Promise<string> {
  const path = `${dataDir}/node-id`;
  await createFileOnce(path, randomHex(8) + "\n", { mode: 0o644 });
  const id = (await Deno.readTextFile(path)).trim();
  if (ID_RE.test(id)) return id;
  throw new IdentityError(
    `identity: ${path} does not hold a node id (16 hex characters); restore it from a backup, or remove it to give this node a new identity (it then joins as a new node)`,
  );
}

async function loadOrCreateAdminToken(dataDir: string): Promise<string> {
  const path = `${dataDir}/admin-token`;
  await createFileOnce(path, randomBase64Url(32) + "\n", { mode: 0o600 });
  const token = ((await readSecretFile(path)) ?? "").trim();
  if (/^\S+$/.test(token)) return token;
  throw new IdentityError(
    `identity: ${path} is empty or holds more than a token; remove it and restart the agent to create a new one`,
  );
}

function parseNodeFile(path: string, text: string): NodeFile {
  const fix = "restore it from a backup, or remove it to rebuild it from node-id";
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new IdentityError(
      `identity: ${path} is corrupt (${(e as Error).message}); ${fix}`,
    );
  }
  const d = data as Partial<NodeFile> | null;
  if (
    typeof d !== "object" || d === null || typeof d.id !== "string" ||
    typeof d.name !== "string" || typeof d.createdAt !== "string"
  ) {
    throw new IdentityError(
      `identity: ${path} is corrupt (expected {"id","name","createdAt"} strings); ${fix}`,
    );
  }
  return { id: d.id, name: d.name, createdAt: d.createdAt };
}

/** Keeps node.json in step with node-id and the configured name. */
async function syncNodeFile(dataDir: string, id: string, name: string, now: () => Date) {
  const path = `${dataDir}/node.json`;
  const text = await readTextFileIfExists(path);
  const current = text === undefined ? undefined : parseNodeFile(path, text);
  if (current && current.id !== id) {
    throw new IdentityError(
      `identity: ${path} is for node ${current.id} but ${dataDir}/node-id says ${id}; the data dir mixes two nodes' files: remove node.json to keep ${id}`,
    );
  }
  if (current?.name === name) return;
  const record: NodeFile = { id, name, createdAt: current?.createdAt ?? now().toISOString() };
  await writeFileAtomic(path, JSON.stringify(record, null, 2) + "\n", { mode: 0o644 });
}

/**
 * Loads this node's identity from `dataDir`, creating what is missing: the dir (0700), `node-id`
 * (0644), `admin-token` (0600) and `node.json`. The id and token never change once made; a new
 * configured name is recorded under the same id. Throws IdentityError with what to do.
 */
export async function loadOrCreateIdentity(
  dataDir: string,
  name: string,
  options: IdentityOptions = {},
): Promise<Identity> {
  if (name.trim() === "") throw new IdentityError("identity: the node name is empty");
  try {
    await ensureDataDir(dataDir);
    const id = await loadOrCreateId(dataDir);
    const adminToken = await loadOrCreateAdminToken(dataDir);
    await syncNodeFile(dataDir, id, name, options.now ?? (() => new Date()));
    return { id, name, adminToken };
  } catch (e) {
    if (e instanceof IdentityError) throw e;
    throw new IdentityError(
      `identity: cannot use data dir ${dataDir}: ${
        (e as Error).message
      }; run as a user who can write it or choose another --data-dir`,
    );
  }
}
