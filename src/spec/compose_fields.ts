/**
 * Readers for the compose fields whose syntax differs from fossora's: the short string forms of
 * `ports`, `volumes`, `environment` and `command`, and compose's `${VAR}` interpolation. Each
 * turns one compose value into fossora's shape or reports why it cannot. How the results become
 * a service is in compose.ts.
 * @module
 */

import {
  checkCommand,
  checkEnvKey,
  checkPortNumber,
  checkStringish,
  checkVolumeName,
  checkVolumePath,
  setOwn,
} from "./fields.ts";
import { entries, expected, indexPath, isMapping, keyPath, type Problems } from "./problems.ts";

/**
 * Undoes compose's `$$` escape and refuses `${VAR}` and `$VAR`: docker compose fills those from
 * the shell or `.env`, which fossora does not have, and deploying the text as written would run
 * a service with a literal `${DB_PASSWORD}` in it.
 */
export function interpolate(text: string, path: string, out: Problems): string | undefined {
  let result = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char !== "$") {
      result += char;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      result += "$";
      i++;
    } else if (next === "{" || (next !== undefined && /[A-Za-z_]/.test(next))) {
      const variable = next === "{"
        ? text.slice(i, text.indexOf("}", i) + 1 || text.length)
        : `$${/^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))![0]}`;
      out.push({
        path,
        message:
          `uses the variable ${variable}, which docker compose fills from the shell or .env; ` +
          "fossora has neither: write the value itself (and $$ for a literal $)",
      });
      return undefined;
    } else {
      result += "$";
    }
  }
  return result;
}

/** A compose string value, type-checked and interpolated. */
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
  return interpolate(value, path, out);
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
    const text = interpolate(value, path, out);
    if (text === undefined) return undefined;
    const words = splitCommand(text);
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
  const args = checkCommand(value, path, out);
  if (args === undefined) return undefined;
  const done = args.map((arg, i) => interpolate(arg, indexPath(path, i), out));
  return done.every((arg) => arg !== undefined) ? done as string[] : undefined;
}

/** Reads `environment`: a mapping, or a list of `KEY=VALUE`. Problems come in file order. */
export function composeEnvironment(
  value: unknown,
  path: string,
  out: Problems,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (isMapping(value)) {
    for (const [key, raw] of entries(value)) addVariable(env, key, raw, keyPath(path, key), out);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = indexPath(path, i);
      if (typeof item !== "string") {
        out.push({ path: at, message: expected("a string KEY=VALUE", item) });
        return;
      }
      const eq = item.indexOf("=");
      if (eq < 0) addVariable(env, item, null, at, out);
      else addVariable(env, item.slice(0, eq), item.slice(eq + 1), at, out);
    });
  } else {
    out.push({
      path,
      message: expected("a mapping of variable to value, or a list of KEY=VALUE", value),
    });
  }
  return env;
}

function addVariable(
  env: Record<string, string>,
  key: string,
  raw: unknown,
  at: string,
  out: Problems,
): void {
  if (!checkEnvKey(key, at, out)) return;
  if (raw === null) {
    out.push({
      path: at,
      message: `'${key}' has no value, so docker compose would take it from the shell, which ` +
        `fossora does not have: write ${key}=value`,
    });
    return;
  }
  if (Object.hasOwn(env, key)) {
    out.push({ path: at, message: `'${key}' is set twice; keep one` });
    return;
  }
  const text = checkStringish(raw, at, out);
  const done = text === undefined ? undefined : interpolate(text, at, out);
  if (done !== undefined) setOwn(env, key, done);
}

/** A compose port entry read: its container port, the host port when it has one, and UDP. */
export interface ComposePort {
  container: number;
  published?: number;
  protocol?: "udp";
}

/**
 * Reads one `ports` entry: `80`, `"80"`, `"8080:80"`, `"0.0.0.0:8080:80"`, `"8080:80/tcp"`,
 * or the long form `{ target, published, protocol, host_ip }`.
 */
export function composePort(value: unknown, path: string, out: Problems): ComposePort | undefined {
  if (typeof value === "number") return wrap(checkPortNumber(value, path, out));
  if (isMapping(value)) return longPort(value, path, out);
  const text = composeString(
    value,
    'a port such as "8080:80" or { target: 80, published: 8080 }',
    path,
    out,
  );
  if (text === undefined) return undefined;
  return shortPort(text, path, out);
}

function wrap(container: number | undefined): ComposePort | undefined {
  return container === undefined ? undefined : { container };
}

function shortPort(text: string, path: string, out: Problems): ComposePort | undefined {
  const before = out.length;
  const slash = text.lastIndexOf("/");
  const protocol = slash >= 0 ? checkProtocol(text.slice(slash + 1), path, out) : "tcp";
  const body = slash >= 0 ? text.slice(0, slash) : text;
  const { address, rest } = splitAddress(body);
  const parts = rest.split(":");
  if (parts.some((part) => /^\d+-\d+$/.test(part))) {
    out.push({ path, message: `'${text}' uses a port range; fossora needs one entry per port` });
    return undefined;
  }
  if (parts.length > 2) {
    out.push({
      path,
      message: `'${text}' is not a port mapping; write HOST:CONTAINER, e.g. "8080:80"`,
    });
    return undefined;
  }
  if (address !== undefined) checkHostAddress(address, path, out);
  const container = portText(parts[parts.length - 1], "container", text, path, out);
  const host = parts.length === 2 && parts[0] !== ""
    ? portText(parts[0], "host", text, path, out)
    : undefined;
  if (out.length > before || container === undefined) return undefined;
  const port = host === undefined ? { container } : { container, published: host };
  return withProtocol(port, protocol, path, out);
}

/** Marks a UDP entry, which must have a host port: only the routing mesh reaches it. */
function withProtocol(
  port: ComposePort,
  protocol: "tcp" | "udp" | undefined,
  path: string,
  out: Problems,
): ComposePort | undefined {
  if (protocol !== "udp") return port;
  if (port.published === undefined) {
    out.push({
      path,
      message:
        `UDP port ${port.container} has no host port; write "${port.container}:${port.container}/udp" to publish it on every node`,
    });
    return undefined;
  }
  return { ...port, protocol: "udp" };
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

function portText(
  text: string,
  which: "host" | "container",
  whole: string,
  path: string,
  out: Problems,
): number | undefined {
  const number = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(number >= 1 && number <= 65535)) {
    out.push({
      path,
      message: `'${whole}' has ${which} port '${text}'; a port is an integer from 1 to 65535`,
    });
    return undefined;
  }
  return number;
}

function checkProtocol(protocol: unknown, path: string, out: Problems): "tcp" | "udp" | undefined {
  if (protocol === "tcp" || protocol === "udp") return protocol;
  out.push({ path, message: expected("the protocol tcp or udp", protocol) });
  return undefined;
}

/**
 * fossora publishes a port on every node's bind address, so a compose file that asks for one
 * address (often 127.0.0.1, to keep a port private) cannot be honoured; widening it silently
 * would expose what the user meant to hide.
 */
function checkHostAddress(address: unknown, path: string, out: Problems): void {
  if (address === "" || address === "0.0.0.0" || address === "::") return;
  out.push({
    path,
    message:
      `binds host address ${
        typeof address === "string" ? address : JSON.stringify(address)
      }, but fossora publishes ports on every node's address: remove the address to publish ` +
      "it on every node, or remove this port to keep it unpublished",
  });
}

function longPort(
  value: Record<string, unknown>,
  path: string,
  out: Problems,
): ComposePort | undefined {
  const before = out.length;
  for (const key of Object.keys(value)) {
    if (!["target", "published", "protocol", "host_ip"].includes(key)) {
      notUnderstood(path, key, out);
    }
  }
  const protocol = value.protocol === undefined
    ? "tcp"
    : checkProtocol(value.protocol, keyPath(path, "protocol"), out);
  if (value.host_ip !== undefined) checkHostAddress(value.host_ip, keyPath(path, "host_ip"), out);
  const container = value.target === undefined
    ? void out.push({
      path: keyPath(path, "target"),
      message: "is missing; give the port inside the container",
    })
    : checkPortNumber(value.target, keyPath(path, "target"), out);
  const published = value.published === undefined
    ? undefined
    : checkPortNumber(numeric(value.published), keyPath(path, "published"), out);
  if (out.length > before || container === undefined) return undefined;
  const port = published === undefined ? { container } : { container, published };
  return withProtocol(port, protocol, keyPath(path, "protocol"), out);
}

/** Compose lets `published` be a string ("8080"); read digits as the number they are. */
function numeric(value: unknown): unknown {
  return typeof value === "string" && /^\d{1,5}$/.test(value) ? Number(value) : value;
}

/** A compose volume entry read: the named volume and where it is mounted. */
export interface ComposeVolume {
  name: string;
  path: string;
}

/**
 * Reads one `volumes` entry: `"name:/path"`, `"name:/path:rw"`, or the long form
 * `{ type: volume, source, target }`. Bind mounts, anonymous volumes, tmpfs and read-only
 * mounts are refused, each with what to write instead.
 */
export function composeVolume(
  value: unknown,
  path: string,
  out: Problems,
): ComposeVolume | undefined {
  if (isMapping(value)) return longVolume(value, path, out);
  const text = composeString(value, 'a volume such as "data:/data"', path, out);
  if (text === undefined) return undefined;
  const parts = text.split(":");
  if (parts.length === 1) return anonymous(text, path, out);
  if (parts.length > 3) {
    out.push({ path, message: `'${text}' is not a volume; write NAME:/path, e.g. "data:/data"` });
    return undefined;
  }
  const [source, target, mode] = parts;
  if (isHostPath(source)) return bindMount(`'${text}'`, target, path, out);
  const before = out.length;
  if (mode !== undefined) checkMode(mode, path, out);
  const name = checkVolumeName(source, path, out);
  const mount = checkVolumePath(target, path, out);
  if (out.length > before || name === undefined || mount === undefined) return undefined;
  return { name, path: mount };
}

function isHostPath(source: string): boolean {
  return source === "" || /^[./~]/.test(source) || source.includes("/") || source.includes("\\");
}

function bindMount(what: string, target: unknown, path: string, out: Problems): undefined {
  const example = typeof target === "string" && target.startsWith("/") ? target : "/data";
  const name = example.split("/").filter((part) => part !== "").pop() ?? "data";
  out.push({
    path,
    message: `${what} is a bind mount of a host path; fossora keeps named volumes only, because ` +
      `a host's files are not on the other nodes: use a named volume such as "${name}:${example}" ` +
      `and declare ${name} under the top-level volumes`,
  });
  return undefined;
}

function anonymous(target: string, path: string, out: Problems): undefined {
  out.push({
    path,
    message: `'${target}' is an anonymous volume; fossora keeps named volumes only: write ` +
      `NAME:${target} and declare NAME under the top-level volumes`,
  });
  return undefined;
}

function checkMode(mode: string, path: string, out: Problems): void {
  for (const option of mode.split(",")) {
    if (option === "rw") continue;
    out.push({
      path,
      message: option === "ro"
        ? "read-only mounts are not supported: fossora mounts volumes read-write; remove ':ro'"
        : `volume option '${option}' is not understood; remove it`,
    });
  }
}

function longVolume(
  value: Record<string, unknown>,
  path: string,
  out: Problems,
): ComposeVolume | undefined {
  const before = out.length;
  for (const key of Object.keys(value)) {
    if (!["type", "source", "target", "read_only"].includes(key)) notUnderstood(path, key, out);
  }
  if (value.type === "bind") return bindMount("this", value.target, keyPath(path, "type"), out);
  if (value.type !== "volume") {
    out.push({
      path: keyPath(path, "type"),
      message: value.type === undefined
        ? "is missing; write type: volume (fossora keeps named volumes only)"
        : `${expected("volume", value.type)}; fossora keeps named volumes only`,
    });
    return undefined;
  }
  if (value.read_only === true) {
    out.push({
      path: keyPath(path, "read_only"),
      message: "read-only mounts are not supported: fossora mounts volumes read-write; remove it",
    });
  } else if (value.read_only !== undefined && value.read_only !== false) {
    out.push({ path: keyPath(path, "read_only"), message: expected("false", value.read_only) });
  }
  const target = value.target === undefined
    ? void out.push({
      path: keyPath(path, "target"),
      message: "is missing; give the path inside the container",
    })
    : checkVolumePath(value.target, keyPath(path, "target"), out);
  if (value.source === undefined && typeof target === "string") return anonymous(target, path, out);
  if (typeof value.source === "string" && isHostPath(value.source)) {
    return bindMount(`source '${value.source}'`, target, keyPath(path, "source"), out);
  }
  const name = checkVolumeName(value.source, keyPath(path, "source"), out);
  if (out.length > before || name === undefined || target === undefined) return undefined;
  return { name, path: target };
}

/** Hints for keys people often write, saying what fossora does instead. */
const HINTS: Record<string, string> = {
  build: "fossora runs prebuilt images: push the image to a registry and set image",
  restart: "fossora restarts exited containers itself",
  depends_on: "fossora starts services independently; let the service retry what it needs",
  networks: "services reach each other at NAME.DOMAIN",
  container_name: "fossora names containers itself",
  entrypoint: "fossora can replace only the command",
  env_file: "write the variables under environment",
  placement: "use x-fossora.placement",
};

/** Reports a compose key fossora does not understand, by its path. */
export function notUnderstood(parent: string, key: string, out: Problems): void {
  const hint = HINTS[key];
  out.push({
    path: keyPath(parent, key),
    message: "fossora does not understand this compose key; remove it" +
      (hint === undefined ? "" : ` (${hint})`),
  });
}
