/**
 * From the bytes a user sent to services: size and encoding limits, JSON or YAML (read by
 * load.ts), which of the four shapes the file has (one service, a list, `{ services: [...] }`,
 * or docker-compose), and the checks that span the whole file.
 * @module
 */

import { type ComposeInput, composeToStack, type StackFiles } from "./compose.ts";
import { loadJson, loadYaml } from "./load.ts";
import {
  describe,
  formatProblem,
  indexPath,
  isMapping,
  keyPath,
  type ParseResult,
  type Problem,
  type Problems,
  SHAPES,
} from "./problems.ts";
import { checkAcrossServices, type Checked, validateService } from "./validate.ts";

/** The largest file accepted, in bytes (1 MiB): far above any real service file. */
export const MAX_FILE_BYTES = 1024 * 1024;

/** At most this many problems are returned; a longer list helps nobody. */
export const MAX_PROBLEMS = 100;

/**
 * Options that tell how the file was named or sent, to pick JSON over YAML, and, for a compose
 * file, its stack's name, variables and files (see ComposeInput).
 */
export interface ParseOptions extends ComposeInput {
  /** The file's name, e.g. `whoami.json`. */
  filename?: string;
  /** The HTTP Content-Type it came with, e.g. `application/json; charset=utf-8`. */
  contentType?: string;
}

/**
 * Reads a service file, YAML or JSON, in fossora's form or docker-compose's, into services.
 * The file is refused whole when anything is wrong, with every problem found and its path.
 *
 * @example
 * ```ts
 * const result = parseServiceFile("name: whoami\nimage: traefik/whoami:v1.10\n");
 * if (result.ok) console.log(result.services[0].replicas); // 1
 * ```
 */
export function parseServiceFile(
  input: string | Uint8Array,
  options: ParseOptions = {},
): ParseResult {
  const text = decode(input);
  if (typeof text !== "string") return refuse([text]);
  let loaded = isJson(options) ? loadJson(text) : loadYaml(text);
  if (!loaded.ok) return refuse(loaded.problems);
  // A compose file is read again as docker compose reads YAML (its `mode: 0440` is octal).
  if (!isJson(options) && isMapping(loaded.value) && isMapping(loaded.value.services)) {
    loaded = loadYaml(text, { legacyOctal: true });
    if (!loaded.ok) return refuse(loaded.problems);
  }
  const problems: Problems = [];
  const warnings: Problems = [...loaded.warnings];
  const { services, stack } = interpret(loaded.value, { problems, warnings }, options);
  if (problems.length > 0) return refuse(problems);
  return {
    ok: true,
    services: services.map((c) => c.spec),
    warnings: warnings.map(formatProblem),
    ...(stack ? { stack } : {}),
  };
}

function refuse(problems: Problem[]): ParseResult {
  if (problems.length <= MAX_PROBLEMS) return { ok: false, problems };
  const shown = problems.slice(0, MAX_PROBLEMS - 1);
  const more = problems.length - shown.length;
  return { ok: false, problems: [...shown, { path: "", message: `and ${more} more problems` }] };
}

/** The file as text, or the problem that stops it being read at all. */
export function decode(input: string | Uint8Array): string | Problem {
  if (typeof input !== "string" && !(input instanceof Uint8Array)) {
    return { path: "", message: "file must be given as text or bytes" };
  }
  const size = typeof input === "string" ? utf8Length(input) : input.byteLength;
  if (size > MAX_FILE_BYTES) {
    return {
      path: "",
      message: `file is ${size} bytes; the limit is 1 MiB (${MAX_FILE_BYTES} bytes): ` +
        "split it into smaller files",
    };
  }
  let text: string;
  if (typeof input === "string") {
    text = input.startsWith("\uFEFF") ? input.slice(1) : input;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(input);
    } catch {
      return { path: "", message: "file is not valid UTF-8; save it as UTF-8 text" };
    }
  }
  if (text.trim() === "") {
    return { path: "", message: `file is empty; write ${SHAPES}` };
  }
  return text;
}

/** The UTF-8 size of a string, without encoding it when its length already decides. */
function utf8Length(text: string): number {
  if (text.length > MAX_FILE_BYTES || text.length * 3 <= MAX_FILE_BYTES) return text.length;
  return new TextEncoder().encode(text).byteLength;
}

/** True when the file was named or sent as JSON. */
export function isJson(options: ParseOptions): boolean {
  const type = options.contentType?.split(";")[0].trim().toLowerCase() ?? "";
  if (type === "application/json" || type.endsWith("+json")) return true;
  return options.filename?.toLowerCase().endsWith(".json") ?? false;
}

/** Decides the file's shape and validates it as that shape. */
function interpret(
  value: unknown,
  out: { problems: Problems; warnings: Problems },
  options: ParseOptions,
): { services: Checked[]; stack?: StackFiles } {
  const { problems } = out;
  let services: Checked[];
  let stack: StackFiles | undefined;
  if (Array.isArray(value)) {
    services = validateList(value, "", problems);
  } else if (!isMapping(value)) {
    problems.push({ path: "", message: `file holds ${describe(value)}; expected ${SHAPES}` });
    return { services: [] };
  } else if (value.services === undefined) {
    const checked = validateService(value, "", problems);
    services = checked === undefined ? [] : [checked];
  } else if (Array.isArray(value.services)) {
    for (const key of Object.keys(value)) {
      if (key !== "services") {
        problems.push({
          path: keyPath("", key),
          message: `unknown key '${key}'; a file with a list of services holds only 'services'`,
        });
      }
    }
    services = validateList(value.services, "services", problems);
  } else if (isMapping(value.services)) {
    ({ services, stack } = composeToStack(value, options, out));
  } else {
    problems.push({
      path: "services",
      message: `expected a list of services, or a compose mapping of name to definition, found ${
        describe(value.services)
      }`,
    });
    return { services: [] };
  }
  if (services.length === 0 && problems.length === 0) {
    problems.push({ path: "", message: `file defines no services; write ${SHAPES}` });
  }
  checkAcrossServices(services, problems);
  return { services, stack };
}

function validateList(list: unknown[], path: string, out: Problems): Checked[] {
  const services: Checked[] = [];
  list.forEach((item, i) => {
    const checked = validateService(item, indexPath(path, i), out);
    if (checked !== undefined) services.push(checked);
  });
  return services;
}
