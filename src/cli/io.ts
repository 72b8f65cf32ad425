/**
 * Everything the client commands touch outside themselves, so tests can pass their own.
 * @module
 */

/** The outside of the client commands. */
export interface CliIo {
  /** Writes text to standard output as is (callers add the newlines). */
  stdout(s: string): void;
  /** Writes text to standard error as is. */
  stderr(s: string): void;
  env: Record<string, string | undefined>;
  readFile(path: string): Promise<Uint8Array<ArrayBuffer>>;
  /** All of standard input, for `deploy -`. */
  readStdin(): Promise<Uint8Array<ArrayBuffer>>;
  now(): Date;
  /** Resolves after `ms` (waits between polls: `nodes drain`). */
  sleep(ms: number): Promise<void>;
  /** Calls `stop` on Ctrl-C until the returned function is called; ends `logs -f`. */
  onInterrupt(stop: () => void): () => void;
  /** Printed by `--version`. */
  version: string;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, s: string): void {
  let bytes = encoder.encode(s);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/** The real terminal, files and environment of this process. */
export function defaultIo(): CliIo {
  return {
    stdout: (s) => writeAll(Deno.stdout, s),
    stderr: (s) => writeAll(Deno.stderr, s),
    env: Deno.env.toObject(),
    readFile: (path) => Deno.readFile(path),
    readStdin: async () => new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer()),
    now: () => new Date(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    onInterrupt: (stop) => {
      Deno.addSignalListener("SIGINT", stop);
      return () => Deno.removeSignalListener("SIGINT", stop);
    },
    version: "dev",
  };
}
