/**
 * `runCli`: parses the arguments, runs one client command, and turns every way it can end into
 * an exit code: 0 done, 1 failed (one line on stderr), 2 bad arguments (with a short usage).
 * @module
 */
import { type Args, type Command, parseArgs } from "./args.ts";
import { ApiClient } from "./client.ts";
import type { Context } from "./context.ts";
import { CliError, UsageError } from "./errors.ts";
import { type CliIo, defaultIo } from "./io.ts";
import { tokenSource } from "./token.ts";
import { commandUsage, programUsage, shortUsage } from "./usage.ts";
import { deploy } from "./commands/deploy.ts";
import { stacks } from "./commands/stacks.ts";
import { logs } from "./commands/logs.ts";
import { leave, nodes } from "./commands/nodes.ts";
import { rm } from "./commands/rm.ts";
import { services } from "./commands/services.ts";
import { status } from "./commands/status.ts";
import { token } from "./commands/token.ts";
import { ui } from "./commands/ui.ts";

/** Default `--api`. */
export const DEFAULT_API = "http://127.0.0.1:7440";

const RUN: Record<Command, (ctx: Context) => Promise<number>> = {
  status,
  nodes,
  deploy,
  services,
  stacks,
  rm,
  logs,
  token,
  leave,
  ui,
};

/** Runs a client command with `argv` (without the program name); resolves to the exit code. */
export async function runCli(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const out: CliIo = { ...defaultIo(), ...io };
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    out.stderr(`fossora: ${e.message}\n${shortUsage(e.command)}`);
    return 2;
  }
  if (args.help) {
    out.stdout(args.command ? commandUsage(args.command) : programUsage());
    return 0;
  }
  if (args.version) {
    out.stdout(`fossora ${out.version}\n`);
    return 0;
  }
  if (!args.command) {
    out.stderr(`fossora: no command given\n${shortUsage()}`);
    return 2;
  }
  try {
    return await RUN[args.command](context(args, out));
  } catch (e) {
    return fail(e, args, out);
  }
}

function context(args: Args, io: CliIo): Context {
  const client = new ApiClient({
    baseUrl: args.api ?? (io.env.FOSSORA_API || DEFAULT_API),
    token: tokenSource(args, io.env, io.readFile),
    debug: args.debug ? (line) => io.stderr(`fossora: debug: ${line}\n`) : undefined,
    stale: (note) => io.stderr(`fossora: warning: ${note}\n`),
  });
  return { args, client, io };
}

/** Prints a failure as one line (plus an invalid spec's problems) and returns 1. */
function fail(e: unknown, args: Args, io: CliIo): number {
  if (e instanceof CliError) {
    io.stderr(`fossora: ${e.message}\n${e.details.map((d) => `  ${d}\n`).join("")}`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(`fossora: unexpected error: ${msg} (run with --debug for details)\n`);
  }
  if (args.debug) io.stderr(debugTrace(e));
  return 1;
}

function debugTrace(e: unknown): string {
  const lines: string[] = [];
  for (let cur: unknown = e; cur instanceof Error; cur = cur.cause) {
    lines.push(cur.stack ?? `${cur.name}: ${cur.message}`);
  }
  return lines.join("\ncaused by: ") + "\n";
}
