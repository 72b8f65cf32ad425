/**
 * Reads raw settings from each source (command line, environment, TOML file) into one shape, so
 * that precedence and validation are the same whatever the source.
 * @module
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { ConfigError, quote } from "./error.ts";
import {
  AGENT_FLAGS,
  envName,
  findFlag,
  FLAG_NAMES,
  type FlagInfo,
  FOREIGN_ENV,
  FOREIGN_ENV_PREFIX,
  FOREIGN_TABLES,
} from "./flags.ts";
import { didYouMean } from "./suggest.ts";

/** A value before validation: text from flags and env, typed values from TOML. */
export type RawValue = string | number | boolean | string[];

/** A raw value and where it came from, e.g. `--http-port` or `FOSSORA_HTTP_PORT`. */
export interface Raw {
  value: RawValue;
  origin: string;
}

/** Raw settings of one source, by flag name. */
export type RawSettings = Map<string, Raw>;

function fail(flag: string, origin: string, reason: string): never {
  throw new ConfigError(`config: ${flag} (from ${origin}): ${reason}`);
}

function splitList(text: string): string[] {
  return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function parseBool(flag: string, origin: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(t)) return true;
  if (["0", "false", "no", "off"].includes(t)) return false;
  return fail(flag, origin, `expected true or false, got ${quote(text)}`);
}

/** Adds one textual value, appending for list kinds and refusing a second scalar. */
function addText(out: RawSettings, flag: FlagInfo, origin: string, text: string): void {
  const prev = out.get(flag.name);
  if (flag.kind === "list" || flag.kind === "labels") {
    const items = (prev?.value as string[] | undefined) ?? [];
    out.set(flag.name, { value: [...items, ...splitList(text)], origin });
    return;
  }
  if (prev) fail(flag.name, origin, "given more than once; give it once");
  const value = flag.kind === "bool" ? parseBool(flag.name, origin, text) : text;
  out.set(flag.name, { value, origin });
}

/** Flags from the command line: `--flag value`, `--flag=value`, bare `--debug`. */
export function fromArgv(argv: readonly string[]): RawSettings {
  const out: RawSettings = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--") || arg === "--") {
      throw new ConfigError(
        `config: unexpected argument ${
          quote(arg)
        }: fossora agent takes only --flags (see fossora agent --help)`,
      );
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = findFlag(name);
    if (!flag) {
      const hint = didYouMean(name, FLAG_NAMES, (s) => `--${s}`);
      throw new ConfigError(`config: unknown flag --${name}${hint}; see fossora agent --help`);
    }
    const origin = `--${name}`;
    let text = eq < 0 ? undefined : arg.slice(eq + 1);
    if (text === undefined && flag.kind === "bool") text = "true";
    if (text === undefined) {
      text = argv[++i];
      if (text === undefined || text.startsWith("--")) {
        fail(name, origin, `missing value; use --${name} ${flag.arg} or --${name}=${flag.arg}`);
      }
    }
    addText(out, flag, origin, text);
  }
  return out;
}

/** FOSSORA_* environment variables; empty ones count as unset. */
export function fromEnv(env: Record<string, string | undefined>): RawSettings {
  const out: RawSettings = new Map();
  const known = AGENT_FLAGS.map((f) => envName(f.name));
  for (const [key, text] of Object.entries(env)) {
    if (!key.startsWith("FOSSORA_") || FOREIGN_ENV.includes(key)) continue;
    if (key.startsWith(FOREIGN_ENV_PREFIX)) continue;
    const flag = AGENT_FLAGS.find((f) => envName(f.name) === key);
    if (!flag) {
      throw new ConfigError(
        `config: unknown environment variable ${key}${
          didYouMean(key, known)
        }; unset it or use one of the FOSSORA_ names in fossora agent --help`,
      );
    }
    if (text === undefined || text === "") continue;
    addText(out, flag, key, text);
  }
  return out;
}

function tomlStrings(flag: string, origin: string, value: unknown): string[] {
  if (typeof value === "string") return splitList(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  return fail(flag, origin, `expected an array of strings, got ${quote(value)}`);
}

function tomlLabels(flag: string, origin: string, value: unknown): string[] {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).map(([k, v]) => {
      if (typeof v !== "string") fail(flag, origin, `label ${quote(k)}: expected a string`);
      return `${k}=${v}`;
    });
  }
  return tomlStrings(flag, origin, value);
}

/** Converts one TOML value to the raw form of its flag, refusing the wrong TOML type. */
function tomlValue(flag: FlagInfo, origin: string, value: unknown): RawValue {
  switch (flag.kind) {
    case "string":
      if (typeof value === "string") return value;
      return fail(flag.name, origin, `expected a string, got ${quote(value)}`);
    case "port":
      if (typeof value === "number") return value;
      return fail(flag.name, origin, `expected an integer port number, got ${quote(value)}`);
    case "number":
      if (typeof value === "number") return value;
      return fail(flag.name, origin, `expected a number, got ${quote(value)}`);
    case "bool":
      if (typeof value === "boolean") return value;
      return fail(flag.name, origin, `expected true or false, got ${quote(value)}`);
    case "list":
      return tomlStrings(flag.name, origin, value);
    case "labels":
      return tomlLabels(flag.name, origin, value);
  }
}

function parseDocument(text: string, path: string): Record<string, unknown> {
  try {
    return parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const reason = e.message.split("\n")[0].replace(/^Invalid TOML document: /, "");
      throw new ConfigError(
        `config: ${path}:${e.line}:${e.column}: invalid TOML: ${reason}; fix that line`,
      );
    }
    throw new ConfigError(`config: ${path}: invalid TOML: ${(e as Error).message}`);
  }
}

/** Settings from a TOML config file whose keys are the flag names. */
export function fromToml(text: string, path: string): RawSettings {
  const out: RawSettings = new Map();
  for (const [key, value] of Object.entries(parseDocument(text, path))) {
    const isTable = value !== null && typeof value === "object" && !Array.isArray(value);
    if (FOREIGN_TABLES.includes(key) && isTable) continue;
    if (key === "config") {
      fail(key, path, "cannot be set inside the config file; use --config or FOSSORA_CONFIG");
    }
    const flag = findFlag(key);
    if (!flag) {
      const hint = didYouMean(key, FLAG_NAMES, (s) => JSON.stringify(s));
      throw new ConfigError(
        `config: unknown key ${JSON.stringify(key)} in ${path}${hint}; keys are the flag names`,
      );
    }
    out.set(key, { value: tomlValue(flag, path, value), origin: path });
  }
  return out;
}
