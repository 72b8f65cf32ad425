/**
 * The V8 settings the agent runs with, and the step that makes every way of starting it have
 * them. A small young generation and a cap on the old one make V8 collect sooner, which is what
 * keeps the agent's private memory low on a Pi (bench/). V8 reads heap sizes only when the
 * process starts, so an agent started without them (`deno run -A src/main.ts agent`, a compiled
 * binary run by hand) replaces itself at once with the same command and the flags in
 * DENO_V8_FLAGS (which `deno run` and compiled binaries both read): same pid, same arguments,
 * so systemd and shells see nothing.
 * @module
 */

/**
 * The flags, comma-separated as DENO_V8_FLAGS takes them. A 4 MiB semi-space: at 1 MiB the
 * proxy spent about 40% more CPU a request on scavenges (bench/), for 6 MiB less memory. GC on
 * the main thread only: with helper threads, the buffers a collection frees are freed on another
 * thread than the one that allocates them, which sends every later glibc malloc down its slow
 * path (a 32-byte Uint8Array cost 1.2 µs rather than 0.23 µs), and on a busy two-core machine the
 * main thread waits for helpers that are not running.
 */
export const AGENT_V8_FLAGS =
  "--max-semi-space-size=4,--max-old-space-size=128,--single-threaded-gc";

/**
 * DENO_V8_FLAGS with the agent's flags added; undefined when nothing needs adding. A heap size
 * the user already set is kept: theirs wins.
 */
export function withAgentFlags(current: string | undefined): string | undefined {
  const have = (current ?? "").split(",").map((f) => f.trim()).filter(Boolean);
  const names = new Set(have.map((f) => f.split("=")[0].replace(/_/g, "-")));
  const missing = AGENT_V8_FLAGS.split(",").filter((f) => !names.has(f.split("=")[0]));
  return missing.length ? [...have, ...missing].join(",") : undefined;
}

/** What re-executing needs from the system; tests pass fakes. */
export interface ExecSystem {
  env(name: string): string | undefined;
  /** This process's argv, as the kernel has it. */
  cmdline(): string[];
  /** Replaces the process image; returns only on failure (with the reason). */
  execve(path: string, argv: string[], env: Record<string, string>): string;
  envAll(): Record<string, string>;
}

/**
 * Re-executes this process with the agent's V8 flags when it lacks them. Returns only when no
 * re-exec is needed, or with a reason why it could not happen (the agent then runs as it is).
 */
export function ensureAgentV8Flags(sys: ExecSystem = realSystem()): string | undefined {
  const flags = withAgentFlags(sys.env("DENO_V8_FLAGS"));
  if (flags === undefined) return undefined;
  let argv: string[];
  try {
    argv = sys.cmdline();
  } catch (err) {
    return `cannot read this process's command line: ${(err as Error).message}`;
  }
  if (argv.length === 0) return "this process's command line is empty";
  return sys.execve("/proc/self/exe", argv, { ...sys.envAll(), DENO_V8_FLAGS: flags });
}

function realSystem(): ExecSystem {
  return {
    env: (n) => Deno.env.get(n),
    envAll: () => Deno.env.toObject(),
    cmdline: () => {
      const raw = Deno.readFileSync("/proc/self/cmdline");
      const parts = new TextDecoder().decode(raw).split("\0");
      if (parts.at(-1) === "") parts.pop();
      return parts;
    },
    execve,
  };
}

/** execve(2) through libc; Deno has no exec of its own. */
function execve(path: string, argv: string[], env: Record<string, string>): string {
  let lib: Deno.DynamicLibrary<{ execve: Deno.ForeignFunction }>;
  try {
    lib = Deno.dlopen("libc.so.6", {
      execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
    });
  } catch (err) {
    return `cannot load libc to re-execute with V8 flags: ${(err as Error).message}`;
  }
  const enc = new TextEncoder();
  const cstrings = (items: string[]) => items.map((s) => enc.encode(s + "\0"));
  const pointerArray = (bufs: Uint8Array[]) => {
    const arr = new BigUint64Array(bufs.length + 1);
    bufs.forEach((b, i) => (arr[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)))));
    return arr;
  };
  const argvBufs = cstrings(argv);
  const envBufs = cstrings(Object.entries(env).map(([k, v]) => `${k}=${v}`));
  const argvPtrs = pointerArray(argvBufs);
  const envPtrs = pointerArray(envBufs);
  lib.symbols.execve(enc.encode(path + "\0"), argvPtrs, envPtrs);
  // Only reached when execve failed; keep the buffers alive until here.
  void [argvBufs, envBufs];
  lib.close();
  return "execve failed; running without the agent's V8 flags";
}
