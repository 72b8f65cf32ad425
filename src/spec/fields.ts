/**
 * Checks of single values, shared by the fossora form (validate.ts) and the compose form
 * (compose.ts) so both give the same answer and the same message for the same mistake. Each
 * check pushes its problems at the path it is given and returns the clean value, or undefined.
 * @module
 */

import type { Placement, Resources } from "../state/types.ts";
import { isDnsLabel } from "../util/names.ts";
import { parseBytes } from "./bytes.ts";
import { imageReferenceProblem } from "./image.ts";
import { checkConstraints } from "./constraint.ts";
import {
  describe,
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";

/** Architectures Docker names (GOARCH), the values `placement.arch` may list. */
export const KNOWN_ARCHES: readonly string[] = [
  "amd64",
  "arm64",
  "arm",
  "386",
  "riscv64",
  "ppc64le",
  "s390x",
];

/** What people write for an arch (uname, Debian) -> what Docker calls it. */
const ARCH_ALIASES: Record<string, string> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  x64: "amd64",
  aarch64: "arm64",
  armhf: "arm",
  armel: "arm",
  armv6: "arm",
  armv6l: "arm",
  armv7: "arm",
  armv7l: "arm",
  i386: "386",
  i686: "386",
  x86: "386",
};

const MAX_LABEL = 63;
const MAX_REPLICAS = 100;
const MAX_PORT = 65535;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$/;

/**
 * Why `value` is not a DNS label ([a-z0-9-], 1..63, no dash at either end), or undefined when
 * it is one. `noun` names the thing in the message: "service name", "volume name", "site".
 */
export function labelProblem(value: unknown, noun: string): string | undefined {
  if (typeof value !== "string") return `${noun} must be a string, found ${describe(value)}`;
  if (isDnsLabel(value)) return undefined;
  // The rest only says which of the rules `value` breaks.
  if (value === "") return `${noun} is empty; it must be 1 to ${MAX_LABEL} characters`;
  if (value.length > MAX_LABEL) {
    return `${noun} is ${value.length} characters long; at most ${MAX_LABEL} are allowed (a DNS label)`;
  }
  if (!/^[a-z0-9-]+$/.test(value)) {
    const hint = /^[A-Za-z0-9_-]+$/.test(value) ? `, e.g. '${suggestLabel(value)}'` : "";
    return `${noun} '${value}' may hold only lowercase letters a-z, digits and '-' (a DNS label)${hint}`;
  }
  return `${noun} '${value}' must not start or end with '-' (a DNS label)`;
}

function suggestLabel(value: string): string {
  return value.toLowerCase().replaceAll("_", "-").replace(/^-+|-+$/g, "");
}

/**
 * Why `name` cannot name a service, or undefined when it can: a DNS label, because the service
 * is reached at `NAME.DOMAIN`.
 *
 * @example
 * ```ts
 * validateServiceName("whoami"); // undefined
 * validateServiceName("Who_Am_I"); // "service name 'Who_Am_I' may hold only lowercase …"
 * ```
 */
export function validateServiceName(name: unknown): string | undefined {
  return labelProblem(name, "service name");
}

/**
 * Sets `map[key]` as an own property even when the key is `__proto__` (a valid variable name),
 * which plain assignment would swallow.
 */
export function setOwn(map: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A string from a user's file that will reach Docker: no NUL, which Docker cannot carry. */
function hasNul(text: string): boolean {
  return text.includes("\0");
}

/**
 * Checks a service name; returns it when valid. With `stack`, the name of a service of that
 * stack, `SERVICE.STACK` (two DNS labels, the second the stack), is valid too.
 */
export function checkName(
  value: unknown,
  path: string,
  out: Problems,
  stack?: string,
): string | undefined {
  if (stack !== undefined && typeof value === "string" && value.endsWith(`.${stack}`)) {
    const service = value.slice(0, -stack.length - 1);
    const problem = labelProblem(service, "service name") ?? labelProblem(stack, "stack name");
    if (problem === undefined) return value;
    out.push({ path, message: problem });
    return undefined;
  }
  const problem = validateServiceName(value);
  if (problem !== undefined) {
    out.push({ path, message: problem });
    return undefined;
  }
  return value as string;
}

/** Checks a volume's name, a DNS label (the Docker volume is `fossora-<service>-<name>`). */
export function checkVolumeName(value: unknown, path: string, out: Problems): string | undefined {
  const problem = labelProblem(value, "volume name");
  if (problem === undefined) return value as string;
  out.push({ path, message: problem });
  return undefined;
}

/** Checks an image reference; returns it when valid. */
export function checkImage(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value !== "string") {
    out.push({ path, message: expected("an image reference such as traefik/whoami:v1.10", value) });
    return undefined;
  }
  const problem = imageReferenceProblem(value);
  if (problem !== undefined) {
    out.push({
      path,
      message:
        `'${value}' is not a valid image reference: ${problem}; write it like traefik/whoami:v1.10`,
    });
    return undefined;
  }
  return value;
}

/** Checks a command given as a list of strings; returns it when valid. */
export function checkCommand(value: unknown, path: string, out: Problems): string[] | undefined {
  const what = 'a list of strings such as ["/whoami", "--port", "8080"]';
  if (!Array.isArray(value)) {
    out.push({ path, message: expected(what, value) });
    return undefined;
  }
  if (value.length === 0) {
    out.push({ path, message: "is an empty list; remove it to run the image's own command" });
    return undefined;
  }
  let ok = true;
  value.forEach((arg, i) => {
    if (typeof arg !== "string") {
      out.push({ path: indexPath(path, i), message: expected("a string", arg) });
      ok = false;
    } else if (hasNul(arg)) {
      out.push({ path: indexPath(path, i), message: "contains a NUL character; remove it" });
      ok = false;
    }
  });
  return ok ? [...value] as string[] : undefined;
}

/** Checks a replica count, an integer 0..100. */
export function checkReplicas(value: unknown, path: string, out: Problems): number | undefined {
  return checkInteger(value, 0, MAX_REPLICAS, path, out);
}

/** Checks a TCP port number, an integer 1..65535. */
export function checkPortNumber(value: unknown, path: string, out: Problems): number | undefined {
  return checkInteger(value, 1, MAX_PORT, path, out);
}

/** Checks an integer from `min` to `max`; returns it when valid. */
export function checkInteger(
  value: unknown,
  min: number,
  max: number,
  path: string,
  out: Problems,
): number | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    out.push({ path, message: expected(`an integer from ${min} to ${max}`, value) });
    return undefined;
  }
  return value;
}

/** Checks a boolean; returns it when valid. */
export function checkBoolean(value: unknown, path: string, out: Problems): boolean | undefined {
  if (typeof value !== "boolean") {
    out.push({ path, message: expected("true or false", value) });
    return undefined;
  }
  return value;
}

/** Checks an environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
export function checkEnvKey(key: string, path: string, out: Problems): boolean {
  if (ENV_KEY.test(key)) return true;
  out.push({
    path,
    message:
      `'${key}' is not a valid environment variable name: use letters, digits and '_', not starting with a digit`,
  });
  return false;
}

/**
 * Checks a value of a string map (env, placement labels): strings as they are, numbers and
 * booleans as YAML wrote them (`8080`, `true`), because a container only ever sees strings.
 */
export function checkStringish(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value === "string") {
    if (!hasNul(value)) return value;
    out.push({ path, message: "contains a NUL character; remove it" });
    return undefined;
  }
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  out.push({
    path,
    message: expected("a string, a number or a boolean (quote it to be sure)", value),
  });
  return undefined;
}

/** Checks a mount path inside the container: absolute, not `/`, no `:` (Docker's separator). */
export function checkVolumePath(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value !== "string") {
    out.push({
      path,
      message: expected("an absolute path inside the container such as /config", value),
    });
    return undefined;
  }
  const problem = volumePathProblem(value);
  if (problem !== undefined) {
    out.push({ path, message: problem });
    return undefined;
  }
  return value;
}

function volumePathProblem(value: string): string | undefined {
  if (!value.startsWith("/")) {
    return `'${value}' is not an absolute path; write the path inside the container, e.g. /config`;
  }
  if (normalizePath(value) === "/") return "a volume cannot be mounted on '/'; pick a directory";
  if (value.includes(":")) return `'${value}' contains ':', which Docker cannot mount`;
  if (hasNul(value)) return "contains a NUL character; remove it";
  return undefined;
}

/** A mount path without trailing slashes, so `/data` and `/data/` count as the same place. */
export function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

/** Checks a service's placement: `arch`, `sites`, `labels`. Absent fields mean any node. */
export function checkPlacement(value: unknown, path: string, out: Problems): Placement | undefined {
  if (!isMapping(value)) {
    out.push({ path, message: expected("a mapping with arch, sites or labels", value) });
    return undefined;
  }
  unknownKeys(value, ["arch", "sites", "labels", "constraints"], path, out);
  const placement: Placement = {};
  const before = out.length;
  if (value.arch !== undefined) {
    placement.arch = checkArches(value.arch, keyPath(path, "arch"), out);
  }
  if (value.sites !== undefined) {
    placement.sites = checkSites(value.sites, keyPath(path, "sites"), out);
  }
  if (value.labels !== undefined) {
    placement.labels = checkLabels(value.labels, keyPath(path, "labels"), out);
  }
  if (value.constraints !== undefined) {
    placement.constraints = checkConstraints(value.constraints, keyPath(path, "constraints"), out);
  }
  return out.length === before ? placement : undefined;
}

function checkArches(value: unknown, path: string, out: Problems): string[] | undefined {
  const list = checkNonEmptyList(
    value,
    "a list of architectures such as [arm64, amd64]",
    path,
    out,
  );
  if (list === undefined) return undefined;
  list.forEach((arch, i) => {
    if (typeof arch === "string" && KNOWN_ARCHES.includes(arch)) return;
    const alias = typeof arch === "string" ? ARCH_ALIASES[arch] : undefined;
    const hint = alias === undefined ? "" : `; Docker calls '${arch}' '${alias}'`;
    out.push({
      path: indexPath(path, i),
      message: `${
        typeof arch === "string" ? `unknown architecture '${arch}'` : expected("a string", arch)
      }; known architectures are ${KNOWN_ARCHES.join(", ")}${hint}`,
    });
  });
  return [...list] as string[];
}

function checkSites(value: unknown, path: string, out: Problems): string[] | undefined {
  const list = checkNonEmptyList(value, "a list of sites such as [home-a]", path, out);
  if (list === undefined) return undefined;
  list.forEach((site, i) => {
    const problem = labelProblem(site, "site");
    if (problem !== undefined) out.push({ path: indexPath(path, i), message: problem });
  });
  return [...list] as string[];
}

function checkNonEmptyList(
  value: unknown,
  what: string,
  path: string,
  out: Problems,
): unknown[] | undefined {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected(what, value) });
    return undefined;
  }
  if (value.length === 0) {
    out.push({ path, message: "is an empty list, which no node matches; remove it to allow any" });
    return undefined;
  }
  return value;
}

function checkLabels(
  value: unknown,
  path: string,
  out: Problems,
): Record<string, string> | undefined {
  if (!isMapping(value)) {
    out.push({
      path,
      message: expected("a mapping of label to value such as { disk: ssd }", value),
    });
    return undefined;
  }
  const labels: Record<string, string> = {};
  for (const [key, raw] of entries(value)) {
    const at = keyPath(path, key);
    if (!LABEL_KEY.test(key)) {
      out.push({
        path: at,
        message: `'${key}' is not a valid label name: use letters, digits, '.', '_', '/' and '-'`,
      });
      continue;
    }
    const text = checkStringish(raw, at, out);
    if (text !== undefined) setOwn(labels, key, text);
  }
  return labels;
}

/** `resources: { cpus: 0.5, memory: 512M }`: what each replica reserves for scheduling. */
export function checkResources(value: unknown, path: string, out: Problems): Resources | undefined {
  if (!isMapping(value)) {
    out.push({
      path,
      message: expected("a mapping with cpus and memory, e.g. {cpus: 0.5, memory: 512M}", value),
    });
    return undefined;
  }
  unknownKeys(value, ["cpus", "memory"], path, out);
  const resources: Resources = {};
  if (value.cpus !== undefined) {
    const cpus = typeof value.cpus === "string" ? Number(value.cpus) : value.cpus;
    if (typeof cpus !== "number" || !Number.isFinite(cpus) || cpus <= 0 || cpus > 1024) {
      out.push({
        path: keyPath(path, "cpus"),
        message: expected("a number of CPUs above 0, e.g. 0.5", value.cpus),
      });
    } else resources.cpus = cpus;
  }
  if (value.memory !== undefined) {
    const memory = parseBytes(value.memory);
    if (memory === undefined) {
      out.push({
        path: keyPath(path, "memory"),
        message: expected("memory such as 512M, 1G or a number of bytes", value.memory),
      });
    } else resources.memory = memory;
  }
  return resources;
}
