/**
 * Files written whole or not at all: the content goes to a temporary file beside the target,
 * synced to disk, then is renamed (or linked) into place, so a crash leaves the old file or the
 * new one, never half of one (half a key, half a token).
 * @module
 */
import { writeAll } from "./conn.ts";

/** Options of {@link writeFileAtomic} and {@link createFileOnce}. */
export interface AtomicWriteOptions {
  /** The file's permission bits; set explicitly because the umask would otherwise change them. */
  mode: number;
}

/** Replaces `path` atomically with `data`, with `options.mode`. Throws a one-line error. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<void> {
  try {
    const temp = await writeTemp(path, data, options.mode);
    try {
      await Deno.rename(temp, path);
    } catch (err) {
      await Deno.remove(temp).catch(() => {});
      throw err;
    }
    await syncDir(dirOf(path));
  } catch (err) {
    throw writeError(path, err);
  }
}

/**
 * Creates `path` with `data` unless it exists, and says whether it did. A hard link fails when
 * the name is taken, so two processes starting at once cannot both create it.
 */
export async function createFileOnce(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<boolean> {
  let temp: string | undefined;
  try {
    temp = await writeTemp(path, data, options.mode);
    await Deno.link(temp, path);
    await syncDir(dirOf(path));
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw writeError(path, err);
  } finally {
    if (temp !== undefined) await Deno.remove(temp).catch(() => {});
  }
}

/** Reads a text file; undefined when it does not exist, a one-line error when it cannot be read. */
export async function readTextFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new Error(
      `cannot read ${path}: ${(err as Error).message}; fix its permissions (fossora runs as root)`,
      { cause: err },
    );
  }
}

/** Writes `data` to a new temporary file beside `path` with `mode`, synced to disk. */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const temp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    using file = await Deno.open(temp, { write: true, createNew: true, mode });
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    await writeAll(file, bytes);
    await file.sync();
    await Deno.chmod(temp, mode); // the umask may have removed bits the caller asked for
    return temp;
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

/** Makes a rename durable; best effort, since not every file system lets a directory be synced. */
async function syncDir(dir: string): Promise<void> {
  try {
    using f = await Deno.open(dir, { read: true });
    await f.sync();
  } catch {
    // The rename itself already happened; only durability across power loss is weaker.
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function writeError(path: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`cannot write ${path}: ${message}; check that its directory is writable`, {
    cause: err,
  });
}

/** True when something exists at `path` (a file, a directory, anything `stat` can see). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
