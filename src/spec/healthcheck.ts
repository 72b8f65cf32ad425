/**
 * The `healthcheck` of a service, the same in fossora's form and in compose (with compose's
 * key spellings there): `test`, `interval`, `timeout`, `start_period`/`startPeriod`, `retries`
 * and `disable`. Docker runs the check; a replica with one counts as ready only while healthy.
 * @module
 */
import type { Healthcheck } from "../state/types.ts";
import { checkBoolean, checkInteger } from "./fields.ts";
import { expected, indexPath, isMapping, keyPath, type Problems, unknownKeys } from "./problems.ts";

/** Reads one string of the check (compose interpolates it; fossora's form takes it as is). */
export type StringReader = (
  value: unknown,
  what: string,
  path: string,
  out: Problems,
) => string | undefined;

const plainString: StringReader = (value, what, path, out) => {
  if (typeof value === "string") return value;
  out.push({ path, message: expected(what, value) });
  return undefined;
};

const UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds in a Go duration (`1m30s`, `500ms`, `2h`), or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let end = 0;
  for (let m = part.exec(text); m !== null; m = part.exec(text)) {
    ms += Number(m[1]) * UNITS_MS[m[2]];
    end = part.lastIndex;
  }
  return end > 0 && end === text.length ? ms : undefined;
}

/**
 * Checks a `healthcheck` mapping; `form` picks the key spellings and `read` reads its strings.
 * Returns the check when it is valid.
 */
export function checkHealthcheck(
  value: unknown,
  path: string,
  out: Problems,
  form: "fossora" | "compose",
  read: StringReader = plainString,
): Healthcheck | undefined {
  const startKey = form === "compose" ? "start_period" : "startPeriod";
  const known = ["test", "interval", "timeout", startKey, "retries", "disable"];
  if (!isMapping(value)) {
    out.push({
      path,
      message: expected(
        `a mapping such as { test: ["CMD", "curl", "-f", "http://localhost/"] }`,
        value,
      ),
    });
    return undefined;
  }
  const raw = value;
  const before = out.length;
  unknownKeys(raw, known, path, out);
  if (raw.disable !== undefined) checkBoolean(raw.disable, keyPath(path, "disable"), out);
  if (raw.disable === true) {
    if (raw.test !== undefined) {
      out.push({ path: keyPath(path, "test"), message: "is given with disable: true; keep one" });
    }
    return out.length === before ? { test: ["NONE"] } : undefined;
  }
  if (raw.test === undefined && form === "compose") {
    // Compose keeps the image's own check then (Immich writes `disable: false` alone); Docker
    // reads an empty test as "the image's", with the timings given here.
    if (!["interval", "timeout", startKey, "retries"].some((key) => raw[key] !== undefined)) {
      return undefined;
    }
  } else if (raw.test === undefined) {
    out.push({
      path: keyPath(path, "test"),
      message: `is missing; give the command, e.g. ["CMD", "curl", "-f", "http://localhost/"]`,
    });
    return undefined;
  }
  const test = raw.test === undefined ? [] : checkTest(raw.test, keyPath(path, "test"), out, read);
  const check: Healthcheck = { test: test ?? [] };
  for (
    const [key, field] of [["interval", "interval"], ["timeout", "timeout"], [
      startKey,
      "startPeriod",
    ]] as const
  ) {
    if (raw[key] === undefined) continue;
    const at = keyPath(path, key);
    const text = read(raw[key], "a duration such as 30s or 1m30s", at, out);
    if (text === undefined) continue;
    const ms = parseDuration(text);
    if (ms === undefined || (ms > 0 && ms < 1)) {
      out.push({ path: at, message: expected("a duration such as 30s, 1m30s or 500ms", text) });
    } else check[field] = text;
  }
  if (raw.retries !== undefined) {
    const retries = checkInteger(raw.retries, 0, 1000, keyPath(path, "retries"), out);
    if (retries !== undefined) check.retries = retries;
  }
  return out.length === before ? check : undefined;
}

/** `test`: a list starting with CMD, CMD-SHELL or NONE, or a string the shell runs. */
function checkTest(
  value: unknown,
  path: string,
  out: Problems,
  read: StringReader,
): string[] | undefined {
  if (typeof value === "string") {
    const command = read(value, "a command", path, out);
    if (command === undefined) return undefined;
    if (command.trim() === "") {
      out.push({ path, message: "is empty; give the command that checks the service" });
      return undefined;
    }
    return ["CMD-SHELL", command];
  }
  const hint = `a list such as ["CMD", "curl", "-f", "http://localhost/"] or ` +
    `["CMD-SHELL", "curl -f http://localhost/ || exit 1"], or a string`;
  if (!Array.isArray(value) || value.length === 0) {
    out.push({ path, message: expected(hint, value) });
    return undefined;
  }
  const words: string[] = [];
  for (const [i, item] of value.entries()) {
    const word = read(item, "a string", indexPath(path, i), out);
    if (word === undefined) return undefined;
    words.push(word);
  }
  const [kind, ...rest] = words;
  const problem = kind === "CMD"
    ? rest.length === 0 ? "CMD needs the program to run after it" : undefined
    : kind === "CMD-SHELL"
    ? rest.length !== 1 ? "CMD-SHELL takes exactly one command string after it" : undefined
    : kind === "NONE"
    ? rest.length !== 0 ? "NONE takes nothing after it" : undefined
    : `starts with ${JSON.stringify(kind)}; start it with CMD, CMD-SHELL or NONE`;
  if (problem) {
    out.push({ path, message: problem });
    return undefined;
  }
  return words;
}
