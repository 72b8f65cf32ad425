/**
 * The private directory that holds keys and certificates.
 * @module
 */

/** Creates `dir` if needed and makes it private (0700) even when it already existed. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  } catch (err) {
    throw new Error(`cannot create ${dir}: ${(err as Error).message}; check the data directory`);
  }
}
