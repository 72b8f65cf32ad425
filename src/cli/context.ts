/**
 * What every command gets: its arguments, the API client and the outside world.
 * @module
 */
import type { Args } from "./args.ts";
import type { ApiClient } from "./client.ts";
import type { CliIo } from "./io.ts";

/** A command's inputs. */
export interface Context {
  args: Args;
  client: ApiClient;
  io: CliIo;
}

/** Prints a value as the `--json` output. */
export function printJson(ctx: Context, value: unknown): void {
  ctx.io.stdout(JSON.stringify(value, null, 2) + "\n");
}
