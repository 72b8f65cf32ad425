/**
 * The `fossora` program: `fossora agent` runs a node; every other command is a client of the
 * local agent's API.
 * @module
 */
import { runCli } from "./cli/mod.ts";
import { VERSION } from "./version.ts";

/** Runs the program with these arguments and returns its exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[0] === "agent") {
    // First, before anything else loads: this may replace the process with one that has them.
    const { ensureAgentV8Flags } = await import("./agent/v8_flags.ts");
    const why = ensureAgentV8Flags();
    if (why) console.error(`fossora agent: warning: ${why}`);
    const { runAgent } = await import("./agent/mod.ts");
    return runAgent(argv.slice(1));
  }
  return runCli(argv, { version: VERSION });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
