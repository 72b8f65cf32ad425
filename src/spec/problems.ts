/**
 * The vocabulary every check in this folder shares: a problem found at a field path, how paths
 * are spelled, and how a wrong value is described back to the user.
 * @module
 */

import type { ServiceSpec } from "../state/types.ts";
import type { StackFiles } from "./compose.ts";
import { nearest } from "../util/suggest.ts";

/** One thing wrong with a service file, at the path of the field (`""` for the whole file). */
export interface Problem {
  /** Field path such as `services[1].ports[0].container` or `services.web.image`; `""` for the file. */
  path: string;
  /** What is wrong and, where it helps, what to write instead. */
  message: string;
}

/** The outcome of reading a service file: the services, or every problem found in it. */
export type ParseResult =
  | { ok: true; services: ServiceSpec[]; warnings: string[]; stack?: StackFiles }
  | { ok: false; problems: Problem[] };

/** The shapes a service file may have, for messages that tell the user what to write. */
export const SHAPES = "a service (a mapping with name and image), a list of services, " +
  "or a docker-compose file with services:";

/** Where checks put what they find; a plain array so checks stay simple functions. */
export type Problems = Problem[];

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * The path of `key` inside `parent`. Keys that would make the path ambiguous (dots, spaces…)
 * are quoted, so `services["my.app"].image` still points at one field.
 */
export function keyPath(parent: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/** The path of list item `index` inside `parent`: `ports[0]`, or `[0]` at the top of the file. */
export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** A mapping as YAML and JSON produce it (not a list, not null, not binary data). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The entries of a mapping, own keys only, in file order. */
export function entries(map: Record<string, unknown>): [string, unknown][] {
  return Object.keys(map).map((key) => [key, map[key]]);
}

const SHOWN_CHARS = 40;

/** Describes a value the way a user would recognise it in their file: `a string ("80")`. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (typeof value === "string") return `a string (${JSON.stringify(shorten(value))})`;
  if (typeof value === "number") {
    return Number.isInteger(value) ? `the number ${value}` : `a number (${value})`;
  }
  if (typeof value === "boolean") return `a boolean (${value})`;
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (value instanceof Uint8Array) return "binary data";
  if (isMapping(value)) return "a mapping";
  return `a value of type ${typeof value}`;
}

function shorten(text: string): string {
  return text.length <= SHOWN_CHARS ? text : `${text.slice(0, SHOWN_CHARS)}…`;
}

/** The standard wrong-type message: `expected an integer from 0 to 100, found a string ("2")`. */
export function expected(what: string, found: unknown): string {
  return `expected ${what}, found ${describe(found)}`;
}

/** Reports every key of `map` that is not in `known`, naming the known ones. */
export function unknownKeys(
  map: Record<string, unknown>,
  known: readonly string[],
  path: string,
  out: Problems,
): void {
  for (const key of Object.keys(map)) {
    if (!known.includes(key)) {
      const near = closest(key, known);
      const hint = near === undefined ? "" : ` (did you mean '${near}'?)`;
      out.push({
        path: keyPath(path, key),
        message: `unknown key '${key}'${hint}; known keys are ${known.join(", ")}`,
      });
    }
  }
}

/**
 * The known key a typo most likely meant, ignoring case: one edit away for short keys, two for
 * keys of six letters or more, so short unrelated keys are not "corrected".
 */
export function closest(key: string, known: readonly string[]): string | undefined {
  return nearest(key, known, {
    maxDistance: Math.min(2, Math.max(1, Math.floor(key.length / 3))),
    normalize: (s) => s.toLowerCase(),
  });
}

/** Formats a problem or warning as one line: `path: message`. */
export function formatProblem(problem: Problem): string {
  return problem.path === "" ? problem.message : `${problem.path}: ${problem.message}`;
}
