/**
 * `fossora deploy FILE`: sends a service file as it is (bytes, whatever their encoding; the agent
 * reports what it cannot read) and prints what changed. A docker-compose file goes as a stack,
 * with what docker compose would read on this machine: the values of the variables it uses
 * (from this environment and the `.env` beside it; only those, never the whole environment)
 * and the files it names (env_file, secrets, configs).
 * @module
 */
import { basename, dirname, resolve } from "node:path";
import { loadYaml } from "../../spec/load.ts";
import { isMapping } from "../../spec/problems.ts";
import { parseEnvFile } from "../../spec/compose_fields.ts";
import { dnsForm } from "../../spec/compose_service.ts";
import { fillVariables, variableNames } from "../../spec/variables.ts";
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
  const name = file === "-" ? "standard input" : file;
  let answer: DeployAnswer;
  try {
    const stack = await composeRequest(ctx, file, bytes);
    answer = stack
      ? await ctx.client.json<DeployAnswer>("POST", "/api/v1/stacks", {
        bytes: new TextEncoder().encode(JSON.stringify(stack)),
        contentType: "application/json",
      })
      : await ctx.client.json<DeployAnswer>("POST", "/api/v1/services", {
        bytes,
        contentType: contentTypeOf(file),
      });
  } catch (e) {
    if (e instanceof ApiFailure && e.code === "invalid_spec") {
      throw new ApiFailure(e.status, e.code, `${name}: ${e.message}`, e.details);
    }
    throw e;
  }
  if (ctx.args.json) {
    printJson(ctx, answer);
    return 0;
  }
  for (const w of answer.warnings) ctx.io.stderr(`fossora: warning: ${w}\n`);
  if (answer.stack) ctx.io.stdout(`stack ${answer.stack}\n`);
  ctx.io.stdout(deployLines(answer));
  for (const removed of answer.removed ?? []) ctx.io.stdout(`removed ${removed}\n`);
  return 0;
}

/** What `POST /api/v1/stacks` takes. */
interface StackRequest {
  file: string;
  filename?: string;
  stack?: string;
  variables: Record<string, string>;
  files: Record<string, string>;
}

/**
 * The stack request for a compose file (a YAML mapping whose `services` is a mapping); undefined
 * for any other file, which goes as it is. `--stack` without a compose file is a usage error.
 */
async function composeRequest(
  ctx: Context,
  file: string,
  bytes: Uint8Array,
): Promise<StackRequest | undefined> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  const loaded = contentTypeOf(file) === "application/json" ? undefined : loadYaml(text);
  const doc = loaded?.ok ? loaded.value : undefined;
  if (!isMapping(doc) || !isMapping(doc.services)) {
    if (ctx.args.stack !== undefined) {
      throw new CliError(`${file}: --stack is for docker-compose files, and this is not one`);
    }
    return undefined;
  }
  const dir = file === "-" ? Deno.cwd() : dirname(resolve(file));
  const dotEnv = await readText(ctx, `${dir}/.env`);
  const fromDotEnv = dotEnv === undefined
    ? {}
    : parseEnvFile(dotEnv, ".env", () => undefined, { problems: [], warnings: [] });
  const wanted = new Set([...variableNames(text), "COMPOSE_PROFILES", ...bareEnvKeys(doc)]);
  const variables: Record<string, string> = {};
  for (const name of wanted) {
    // As with docker compose, the shell's environment wins over .env.
    const value = ctx.io.env[name] ??
      (Object.hasOwn(fromDotEnv, name) ? fromDotEnv[name] : undefined);
    if (value !== undefined) variables[name] = value;
  }
  const files: Record<string, string> = {};
  for (const named of namedFiles(doc)) {
    // The agent fills in variables before it looks a file up (`file: ${SECRETS:-.}/key`).
    const path = fillVariables(named, (v) => variables[v], "", [], []) ?? named;
    const content = await readText(ctx, resolve(dir, path));
    if (content !== undefined) files[path] = content;
  }
  const stack = ctx.args.stack ?? (doc.name === undefined ? dnsForm(basename(dir)) : undefined);
  return {
    file: text,
    ...(file === "-" ? {} : { filename: basename(file) }),
    ...(stack ? { stack } : {}),
    variables,
    files,
  };
}

/** `environment: [FOO]` or `{FOO: null}` takes FOO from the environment, as compose does. */
function bareEnvKeys(doc: Record<string, unknown>): string[] {
  const keys: string[] = [];
  for (const def of Object.values(doc.services as Record<string, unknown>)) {
    const env = isMapping(def) ? def.environment : undefined;
    if (Array.isArray(env)) {
      for (const item of env) if (typeof item === "string" && !item.includes("=")) keys.push(item);
    } else if (isMapping(env)) {
      for (const [key, value] of Object.entries(env)) if (value === null) keys.push(key);
    }
  }
  return keys;
}

/** The paths of env files, secrets and configs the compose file names. */
function namedFiles(doc: Record<string, unknown>): string[] {
  const paths = new Set<string>();
  for (const def of Object.values(doc.services as Record<string, unknown>)) {
    if (!isMapping(def)) continue;
    for (const item of [def.env_file].flat()) {
      const path = isMapping(item) ? item.path : item;
      if (typeof path === "string") paths.add(path);
    }
  }
  for (const top of [doc.secrets, doc.configs]) {
    if (!isMapping(top)) continue;
    for (const def of Object.values(top)) {
      if (isMapping(def) && typeof def.file === "string") paths.add(def.file);
    }
  }
  return [...paths];
}

/** The largest file sent with a stack: the agent takes 1 MiB a request. */
const MAX_NAMED_FILE = 1024 * 1024;

/** A file's text, or undefined when it is not there (the agent says what is missing). */
async function readText(ctx: Context, path: string): Promise<string | undefined> {
  try {
    // Not a device or a FIFO a hostile file names (/dev/zero), nor more than the agent takes.
    const info = await Deno.stat(path);
    if (!info.isFile) throw new CliError(`${path} is not a regular file; name a file`);
    if (info.size > MAX_NAMED_FILE) {
      throw new CliError(`${path} is ${info.size} bytes; files sent with a stack take 1 MiB`);
    }
    return new TextDecoder("utf-8", { fatal: true }).decode(await ctx.io.readFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory) {
      return undefined;
    }
    if (e instanceof CliError) throw e;
    if (e instanceof TypeError) throw new CliError(`${path} is not UTF-8 text; save it as text`);
    throw new CliError(`cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
}
