/**
 * Runs Debian's `openssl` command line tool. Certificates are made by the system's openssl rather
 * than in-process so the same well-tested tool that operators use to inspect them also makes them.
 * @module
 */

/** The result of one openssl run. */
export interface OpensslResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `openssl ARGS`; throws a one-line error when the tool is missing. */
export async function runOpenssl(args: string[]): Promise<OpensslResult> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "openssl is not installed or not on PATH: install it (apt-get install openssl); " +
          "fossora needs it to make the cluster's TLS certificates",
      );
    }
    throw new Error(`cannot run openssl: ${(err as Error).message}`);
  }
  const decoder = new TextDecoder();
  return {
    ok: out.success,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Runs `openssl ARGS` and returns its output; a failure throws, saying what was being done. */
export async function openssl(args: string[], doing: string): Promise<string> {
  const r = await runOpenssl(args);
  if (!r.ok) {
    // openssl prints informational lines (e.g. the subject) before the error itself.
    const lines = r.stderr.split("\n").map((l) => l.trim()).filter((l) => l);
    const reason = lines.filter((l) => /error|unable|cannot|no such/i.test(l)).join("; ") ||
      lines.at(-1) || "no message";
    throw new Error(`openssl failed while ${doing}: ${reason}`);
  }
  return r.stdout;
}
