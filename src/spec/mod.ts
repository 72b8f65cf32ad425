/**
 * Service files: fossora's own YAML/JSON form (one service, a list, or `{ services: [...] }`)
 * and docker-compose files, read and validated into `ServiceSpec[]`. A file with any problem is
 * refused whole, with every problem and its field path.
 *
 * @example
 * ```ts
 * import { parseServiceFile } from "./mod.ts";
 * const result = parseServiceFile(await Deno.readFile("whoami.yaml"), { filename: "whoami.yaml" });
 * if (!result.ok) for (const p of result.problems) console.error(`${p.path}: ${p.message}`);
 * ```
 * @module
 */

export { type ParseResult, type Problem } from "./problems.ts";
export { MAX_ALIAS_COUNT, MAX_NESTING } from "./load.ts";
export { MAX_FILE_BYTES, MAX_PROBLEMS, type ParseOptions, parseServiceFile } from "./parse.ts";
export { KNOWN_ARCHES, validateServiceName } from "./fields.ts";
export { parseDuration } from "./healthcheck.ts";
export { hostPortConflicts, publishedPortConflicts } from "./conflicts.ts";
