/**
 * Files that hold keys and certificates: written whole or not at all, with the mode they need.
 * @module
 */

/**
 * Writes `text` to `path` atomically (a temp file in the same directory, then rename), so a crash
 * never leaves half a key behind. The mode is set explicitly because umask would otherwise loosen
 * or tighten it.
 */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      await Deno.chmod(tmp, mode);
      const data = new TextEncoder().encode(text);
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `cannot write ${path}: ${(err as Error).message}; check that its directory is writable`,
    );
  }
}

/** Reads a text file; undefined when it does not exist, a one-line error when it cannot be read. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new Error(
      `cannot read ${path}: ${(err as Error).message}; fix its permissions (fossora runs as root)`,
    );
  }
}

/** Creates `dir` if needed and makes it private (0700) even when it already existed. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  } catch (err) {
    throw new Error(`cannot create ${dir}: ${(err as Error).message}; check the data directory`);
  }
}
