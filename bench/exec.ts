/**
 * Running the external programs the bench needs (docker, wrk, dnsperf, nginx, dnsmasq) with a
 * time limit each, so a hung tool can never hold the bench past its budget.
 * @module
 */
import { waitFor } from "../test/helpers/wait.ts";

/** What a finished command printed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const decoder = new TextDecoder();

/**
 * Aborted by {@link stopChildren}: a load tool still running when the bench is stopped (budget,
 * Ctrl-C, SIGTERM to the bench alone) would otherwise outlive it and load the machine.
 */
let stopping = new AbortController();

/** Kills every command {@link run} started that is still running, and any started later. */
export function stopChildren(): void {
  stopping.abort();
}

/** Lets {@link run} start commands again after {@link stopChildren} (for tests). */
export function resetChildren(): void {
  stopping = new AbortController();
}

/** Runs a command to the end or kills it at `timeoutMs`; never throws on a non-zero exit. */
export async function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  // Deno spawns a command whose signal is already aborted and only kills it afterwards, so a
  // quick one could still run to the end: refuse it here instead.
  stopping.signal.throwIfAborted();
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping.signal]),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs a command and returns its stdout, failing with its stderr when it exits non-zero. */
export async function runOk(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/** A long-running program (a reference server); disposing it stops it, SIGKILL after 5 s. */
export class Daemon implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #stderr: Promise<string>;
  #done = false;

  constructor(readonly name: string, cmd: string, args: string[]) {
    this.#child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#status = this.#child.status.then((s) => {
      this.#done = true;
      return s;
    });
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Waits until `probe` passes; fails early, with the program's stderr, if it exits. */
  async ready(probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    await waitFor(
      `${this.name} to answer`,
      async () => {
        if (this.#done) throw new Error(`${this.name} exited: ${(await this.#stderr).trim()}`);
        return await probe();
      },
      timeoutMs,
      50,
    ).catch(async (err) => {
      if (this.#done) throw new Error(`${this.name} exited: ${(await this.#stderr).trim()}`);
      throw err;
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#done) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          this.#child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await this.#status;
      clearTimeout(timer);
    }
    await this.#stderr.catch(() => "");
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function tcpOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
