/**
 * Readers for the compose fields whose syntax differs from fossora's: the short string forms of
 * `ports`, `environment` (and env files) and `command`. Each turns one compose value into
 * fossora's shape or reports why it cannot. How the results become a service is in
 * compose_service.ts; volumes are read in compose_mounts.ts.
 * @module
 */

import { isIPv6 } from "../util/ip.ts";
import { checkCommand, checkPortNumber, checkStringish, setOwn } from "./fields.ts";
import { fillVariables } from "./variables.ts";
import { entries, expected, indexPath, isMapping, keyPath, type Problems } from "./problems.ts";

/** A compose string value, type-checked (variables are filled in before, for the whole file). */
export function composeString(
  value: unknown,
  what: string,
  path: string,
  out: Problems,
): string | undefined {
  if (typeof value !== "string") {
    out.push({ path, message: expected(what, value) });
    return undefined;
  }
  return value;
}

/**
 * Splits a command string into arguments the way a POSIX shell would split words: on
 * whitespace, with single quotes, double quotes and backslash escapes. No variables, no globs.
 */
export function splitCommand(text: string): string[] | { error: string } {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && /["\\$`]/.test(text[i + 1] ?? "")) word += text[++i];
      else word += char;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (char === "'" || char === '"') quote = char;
      else if (char === "\\" && i + 1 < text.length) word += text[++i];
      else word += char;
    }
  }
  if (quote !== undefined) return { error: `the quote ${quote} is never closed` };
  if (inWord) words.push(word);
  return words;
}

/** Reads `command`: a list of strings, or one string split like a shell would. */
export function composeCommand(value: unknown, path: string, out: Problems): string[] | undefined {
  if (typeof value === "string") {
    const words = splitCommand(value);
    if (!Array.isArray(words)) {
      out.push({ path, message: `cannot be split into arguments: ${words.error}` });
      return undefined;
    }
    if (words.length === 0) {
      out.push({ path, message: "is empty; remove it to run the image's own command" });
      return undefined;
    }
    return words;
  }
  if (!Array.isArray(value)) {
    out.push({ path, message: expected("a string or a list of strings", value) });
    return undefined;
  }
  return checkCommand(value, path, out);
}

/**
 * The content of a file the CLI sent beside the compose file, by the path written in it. Own
 * keys only, and text only: `env_file: constructor` names no file of a plain object.
 */
export function sentFile(files: Record<string, string>, path: string): string | undefined {
  return Object.hasOwn(files, path) && typeof files[path] === "string" ? files[path] : undefined;
}

/** A variable's value from the CLI's environment or `.env`; undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/**
 * Reads `environment`: a mapping, or a list of `KEY=VALUE`. A key without a value takes the
 * value of the variable of that name (the CLI's environment or `.env`), as compose takes it from
 * the shell; an unset one is left out with a warning.
 */
export function composeEnvironment(
  value: unknown,
  path: string,
  lookup: Lookup,
  out: { problems: Problems; warnings: Problems },
): Record<string, string> {
  const env: Record<string, string> = {};
  if (isMapping(value)) {
    for (const [key, raw] of entries(value)) {
      addVariable(env, key, raw, keyPath(path, key), lookup, out);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = indexPath(path, i);
      if (isMapping(item) && Object.keys(item).length === 1) {
        // `- TZ: Europe/Paris` (Pi-hole's docs): a mapping where compose wants `TZ=Europe/Paris`.
        const [[key, raw]] = entries(item);
        out.warnings.push({
          path: at,
          message: `is a mapping in a list; read as ${key}=…, as meant (write ${key}=VALUE)`,
        });
        addVariable(env, key, raw, at, lookup, out);
        return;
      }
      if (typeof item !== "string") {
        out.problems.push({ path: at, message: expected("a string KEY=VALUE", item) });
        return;
      }
      const eq = item.indexOf("=");
      if (eq < 0) addVariable(env, item, null, at, lookup, out);
      else addVariable(env, item.slice(0, eq), item.slice(eq + 1), at, lookup, out);
    });
  } else {
    out.problems.push({
      path,
      message: expected("a mapping of variable to value, or a list of KEY=VALUE", value),
    });
  }
  return env;
}

/**
 * Docker passes any name without `=` into the container (Java apps read `spring.datasource.url`);
 * only what cannot be written as `NAME=value` is refused.
 */
export function checkComposeEnvKey(key: string, path: string, out: Problems): boolean {
  if (key !== "" && !/[=\0\s]/.test(key)) return true;
  out.push({
    path,
    message: key === ""
      ? "has an empty variable name; write NAME=value"
      : `'${key}' cannot be a variable name: it holds '=', a space or a NUL; rename it`,
  });
  return false;
}

function addVariable(
  env: Record<string, string>,
  key: string,
  raw: unknown,
  at: string,
  lookup: Lookup,
  out: { problems: Problems; warnings: Problems },
): void {
  if (!checkComposeEnvKey(key, at, out.problems)) return;
  if (Object.hasOwn(env, key)) {
    out.problems.push({ path: at, message: `'${key}' is set twice; keep one` });
    return;
  }
  if (raw === null) {
    const value = lookup(key);
    if (value === undefined) {
      out.warnings.push({
        path: at,
        message: `'${key}' has no value and is not set in your environment or .env, so the ` +
          `container does not get it (as with docker compose); write ${key}=value to set it`,
      });
    } else {
      setOwn(env, key, value);
    }
    return;
  }
  const text = checkStringish(raw, at, out.problems);
  if (text !== undefined) setOwn(env, key, text);
}

/**
 * Reads the `KEY=VALUE` lines of an env file (`env_file`), as docker compose reads them: a value
 * that is not in single quotes has its `${VAR}`s filled from the lines above it, then from the
 * CLI's environment and `.env`.
 */
export function parseEnvFile(
  text: string,
  path: string,
  lookup: Lookup,
  out: { problems: Problems; warnings: Problems },
): Record<string, string> {
  const env: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s*export\s+/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    const at = `${path} line ${i + 1}`;
    const eq = line.indexOf("=");
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (eq < 0) return addVariable(env, key, null, at, lookup, out);
    const written = line.slice(eq + 1).trim();
    let value = envFileValue(written);
    if (!written.startsWith("'") && value.includes("$")) {
      const above: Lookup = (name) => Object.hasOwn(env, name) ? env[name] : lookup(name);
      value = fillVariables(value, above, at, out.problems, out.warnings) ?? value;
    }
    addVariable(env, key, value, at, lookup, out);
  });
  return env;
}

/** A value as written after `=`: quotes removed, `\n` in double quotes, comments after a space. */
function envFileValue(text: string): string {
  const value = text.trim();
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.lastIndexOf(quote) > 0) {
    const inner = value.slice(1, value.lastIndexOf(quote));
    return quote === '"'
      ? inner.replace(/\\([nrt"\\])/g, (_m, c) => ({ n: "\n", r: "\r", t: "\t" })[c as "n"] ?? c)
      : inner;
  }
  return value.replace(/\s+#.*$/, "");
}

/** A compose port entry read: its container port, the host port when it has one, and UDP. */
export interface ComposePort {
  container: number;
  published?: number;
  protocol?: "udp";
}

/** The most ports one range may expand to; Docker allows more, but a cluster-wide mesh should not. */
export const MAX_RANGE = 1000;

/**
 * Reads one `ports` entry: `80`, `"80"`, `"8080:80"`, `"0.0.0.0:8080:80"`, `"8080:80/udp"`,
 * `"8000-8010:8000-8010"`, or the long form `{ target, published, protocol, host_ip, mode }`.
 * A range gives one entry per port. A port bound to a loopback address (`127.0.0.1:8080:80`)
 * is meant for the machine itself, so it is not published: the service is still reached by
 * name in its stack and at its URL.
 */
export function composePorts(
  value: unknown,
  path: string,
  out: { problems: Problems; warnings: Problems },
): ComposePort[] {
  if (typeof value === "number") {
    const container = checkPortNumber(value, path, out.problems);
    return container === undefined ? [] : [{ container }];
  }
  if (isMapping(value)) return longPort(value, path, out);
  const text = composeString(
    value,
    'a port such as "8080:80" or { target: 80, published: 8080 }',
    path,
    out.problems,
  );
  return text === undefined ? [] : shortPort(text, path, out);
}

function shortPort(
  text: string,
  path: string,
  out: { problems: Problems; warnings: Problems },
): ComposePort[] {
  const problems = out.problems;
  const before = problems.length;
  const slash = text.lastIndexOf("/");
  const protocol = slash >= 0 ? checkProtocol(text.slice(slash + 1), path, problems) : "tcp";
  const body = slash >= 0 ? text.slice(0, slash) : text;
  const { address, rest } = splitAddress(body);
  const parts = rest.split(":");
  if (parts.length > 2) {
    problems.push({
      path,
      message: `'${text}' is not a port mapping; write HOST:CONTAINER, e.g. "8080:80"`,
    });
    return [];
  }
  const container = portRange(parts[parts.length - 1], "container", text, path, problems);
  const host = parts.length === 2 && parts[0] !== ""
    ? portRange(parts[0], "host", text, path, problems)
    : undefined;
  if (problems.length > before || container === undefined) return [];
  if (host !== undefined && host.length !== container.length) {
    problems.push({
      path,
      message: `'${text}' maps ${host.length} host ports to ${container.length} container ports; ` +
        "give ranges of the same length",
    });
    return [];
  }
  if (!isAddress(address, path, problems)) return [];
  const publish = host !== undefined && keepsAddress(address, path, out.warnings);
  return container.map((port, i) =>
    withProtocol(publish ? { container: port, published: host![i] } : { container: port }, protocol)
  );
}

/** `8080` or `8000-8010`, as the ports they name. */
function portRange(
  text: string,
  which: "host" | "container",
  whole: string,
  path: string,
  out: Problems,
): number[] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m?.[2] === undefined ? first : Number(m[2]);
  if (!(first >= 1 && last <= 65535 && first <= last)) {
    out.push({
      path,
      message: `'${whole}' has ${which} port '${text}'; a port is an integer from 1 to 65535, ` +
        "a range is FIRST-LAST",
    });
    return undefined;
  }
  if (last - first + 1 > MAX_RANGE) {
    out.push({
      path,
      message: `'${whole}' names ${last - first + 1} ports; at most ${MAX_RANGE} a range`,
    });
    return undefined;
  }
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Marks a UDP entry; one without a host port is reached by the stack's services only. */
function withProtocol(port: ComposePort, protocol: "tcp" | "udp" | undefined): ComposePort {
  return protocol === "udp" ? { ...port, protocol: "udp" } : port;
}

/** Splits `IP:HOST:CONTAINER` (IPv6 in brackets) into its address and the rest. */
function splitAddress(body: string): { address?: string; rest: string } {
  if (body.startsWith("[")) {
    const close = body.indexOf("]");
    if (close > 0 && body[close + 1] === ":") {
      return { address: body.slice(1, close), rest: body.slice(close + 2) };
    }
  }
  const parts = body.split(":");
  if (parts.length < 3) return { rest: body };
  return { address: parts.slice(0, -2).join(":"), rest: parts.slice(-2).join(":") };
}

function checkProtocol(protocol: unknown, path: string, out: Problems): "tcp" | "udp" | undefined {
  if (protocol === "tcp" || protocol === "udp") return protocol;
  out.push({ path, message: expected("the protocol tcp or udp", protocol) });
  return undefined;
}

/** Docker refuses a port bound to what is not an IP address (`1:2:3:4`, `localhost`). */
function isAddress(address: unknown, path: string, out: Problems): boolean {
  if (address === undefined || address === "") return true;
  if (typeof address !== "string") {
    out.push({ path, message: expected("an IP address such as 192.168.1.5", address) });
    return false;
  }
  const text = address;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text) && text.split(".").every((n) => Number(n) <= 255)) {
    return true;
  }
  if (isIPv6(text)) return true;
  out.push({
    path,
    message: `'${text}' is not an IP address to bind the port to; write HOST:CONTAINER, ` +
      'e.g. "8080:80"',
  });
  return false;
}

/**
 * Whether a port bound to `address` is published. fossora publishes on every node: a loopback
 * address means "this machine only", so widening it would expose what the user meant to hide,
 * and the port stays unpublished; another address (a LAN IP of the machine it came from) is
 * widened to every node, with a warning.
 */
function keepsAddress(address: unknown, path: string, warnings: Problems): boolean {
  if (address === undefined || address === "" || address === "0.0.0.0" || address === "::") {
    return true;
  }
  const text = String(address);
  if (/^127\.|^::1$/.test(text)) {
    warnings.push({
      path,
      message: `is bound to ${text}, the machine itself, so fossora does not publish it: the ` +
        "stack's services reach it by name, and an http port is served at the service's URL",
    });
    return false;
  }
  warnings.push({
    path,
    message: `is bound to ${text} in the file; fossora publishes it on every node's address`,
  });
  return true;
}

function longPort(
  value: Record<string, unknown>,
  path: string,
  out: { problems: Problems; warnings: Problems },
): ComposePort[] {
  const problems = out.problems;
  const before = problems.length;
  for (const key of Object.keys(value)) {
    if (key === "mode" || key === "name" || key === "app_protocol") {
      out.warnings.push({
        path: keyPath(path, key),
        message: key === "mode"
          ? "is ignored: every node forwards the port to a ready replica (Swarm's ingress mode)"
          : "is ignored",
      });
    } else if (!["target", "published", "protocol", "host_ip"].includes(key)) {
      notUnderstood(path, key, problems);
    }
  }
  const protocol = value.protocol === undefined
    ? "tcp"
    : checkProtocol(value.protocol, keyPath(path, "protocol"), problems);
  const container = value.target === undefined
    ? void problems.push({
      path: keyPath(path, "target"),
      message: "is missing; give the port inside the container",
    })
    : checkPortNumber(numeric(value.target), keyPath(path, "target"), problems);
  const published = value.published === undefined
    ? undefined
    : checkPortNumber(numeric(value.published), keyPath(path, "published"), problems);
  if (problems.length > before || container === undefined) return [];
  if (!isAddress(value.host_ip, keyPath(path, "host_ip"), problems)) return [];
  const publish = published !== undefined &&
    keepsAddress(value.host_ip, keyPath(path, "host_ip"), out.warnings);
  const port = publish ? { container, published } : { container };
  return [withProtocol(port, protocol)];
}

/** Compose lets ports be strings ("8080"); read digits as the number they are. */
function numeric(value: unknown): unknown {
  return typeof value === "string" && /^\d{1,5}$/.test(value) ? Number(value) : value;
}

/** Hints for keys people write that fossora cannot honour, saying what to do instead. */
const HINTS: Record<string, string> = {
  build: "fossora runs images: build and push it, then set image:",
  network_mode: "fossora runs a container in its stack's network or, with host, in the node's",
  ipc: "containers of a stack do not share an IPC namespace across nodes",
  pid: "containers of a stack do not share a PID namespace across nodes",
};

/** Reports a compose key fossora does not understand, by its path. */
export function notUnderstood(parent: string, key: string, out: Problems): void {
  const hint = Object.hasOwn(HINTS, key) ? HINTS[key] : undefined;
  out.push({
    path: keyPath(parent, key),
    message: hint === undefined
      ? "fossora does not understand this compose key; remove it"
      : `is not supported: ${hint}`,
  });
}
