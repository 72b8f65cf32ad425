/**
 * `fossora deploy FILE`: sends a service file as it is (bytes, whatever their encoding; the agent
 * reports what it cannot read) and prints what changed.
 * @module
 */
import type { DeployAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { CliError } from "../errors.ts";
import { ApiFailure } from "../client.ts";

/** The content type a file name suggests; undefined lets the agent tell from the content. */
export function contentTypeOf(path: string): string | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith(".json")) return "application/json";
  if (lower.endsWith(".yaml") || lower.endsWith(".yml")) return "application/yaml";
  return undefined;
}

/** One line per applied service: created, updated or unchanged. */
export function deployLines(answer: DeployAnswer): string {
  return answer.services.map((s) => {
    const verb = s.created ? "created" : s.changed ? "updated" : "unchanged";
    return `${verb} ${s.name} (generation ${s.generation})\n`;
  }).join("");
}

async function readInput(ctx: Context, file: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return file === "-" ? await ctx.io.readStdin() : await ctx.io.readFile(file);
  } catch (e) {
    const what = file === "-" ? "standard input" : file;
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`cannot read ${what}: no such file; check the path`);
    }
    if (e instanceof Deno.errors.IsADirectory) {
      throw new CliError(`cannot read ${what}: it is a directory; give the service file`);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new CliError(`cannot read ${what}: permission denied`);
    }
    throw new CliError(`cannot read ${what}: ${e instanceof Error ? e.message : e}`, [], {
      cause: e,
    });
  }
}

/** Runs `fossora deploy FILE`. */
export async function deploy(ctx: Context): Promise<number> {
  const file = ctx.args.positionals[0];
  const bytes = await readInput(ctx, file);
  let answer: DeployAnswer;
  try {
    answer = await ctx.client.json<DeployAnswer>("POST", "/api/v1/services", {
      bytes,
      contentType: contentTypeOf(file),
    });
  } catch (e) {
    if (e instanceof ApiFailure && e.code === "invalid_spec") {
      const name = file === "-" ? "standard input" : file;
      throw new ApiFailure(e.status, e.code, `${name}: ${e.message}`, e.details);
    }
    throw e;
  }
  if (ctx.args.json) {
    printJson(ctx, answer);
    return 0;
  }
  for (const w of answer.warnings) ctx.io.stderr(`fossora: warning: ${w}\n`);
  ctx.io.stdout(deployLines(answer));
  return 0;
}
