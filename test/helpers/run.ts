/**
 * Running a short command to its end for test set-up and teardown (`ip`, `iptables`, `docker`…),
 * with its output as text.
 * @module
 */

/** How a command ended and what it printed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Kills the command when aborted (default: 60 s). */
  signal?: AbortSignal;
  env?: Record<string, string>;
}

/**
 * Runs `cmd` and returns its exit code and output; never throws for a non-zero exit, only when
 * the program cannot be started.
 */
export async function run(cmd: string[], options: RunOptions = {}): Promise<RunResult> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
    signal: options.signal ?? AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs `cmd` and returns its stdout; throws with the command and its stderr when it fails. */
export async function must(cmd: string[], options: RunOptions = {}): Promise<string> {
  const r = await run(cmd, options);
  if (r.code !== 0) {
    throw new Error(`${cmd.join(" ")}: exit ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}
