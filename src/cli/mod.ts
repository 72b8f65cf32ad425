/**
 * The `fossora` client commands (SPEC.md "The program"): status, nodes, deploy, services, rm,
 * logs, token. `src/main.ts` dispatches `agent` itself and everything else to `runCli`.
 * @module
 */
export { DEFAULT_API, runCli } from "./run.ts";
export { type CliIo, defaultIo } from "./io.ts";
export { type Command, COMMANDS } from "./args.ts";
export { programUsage } from "./usage.ts";
