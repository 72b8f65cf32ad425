/**
 * Reads a compose service's `volumes` (and `tmpfs`) entries: what each mounts, and where.
 * Compose mounts four kinds of things; fossora keeps each as Docker would, except a path
 * relative to the compose file, which exists only on the machine the file came from: that
 * becomes a named volume the cluster keeps and moves with the service, with a warning.
 * @module
 */

import { normalizePath } from "./fields.ts";
import { parseBytes } from "./bytes.ts";
import { absolutePathProblem } from "./host_path.ts";
import { composeString, notUnderstood } from "./compose_fields.ts";
import { expected, isMapping, keyPath, type Problems } from "./problems.ts";

/** One mount of a compose service, read. */
export type ComposeMount =
  | {
    kind: "volume";
    name: string;
    path: string;
    readOnly?: boolean;
    /** Made from a relative host path, so no top-level declaration is needed. */
    fromPath?: boolean;
  }
  | { kind: "bind"; source: string; path: string; readOnly?: boolean }
  | { kind: "anonymous"; path: string }
  | { kind: "tmpfs"; path: string; size?: number; mode?: number };

/** What mount readers report to. */
export interface MountOut {
  problems: Problems;
  warnings: Problems;
}

/** Docker's rule for a volume name (`db_data`, `nextcloud.data`). */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Short-form options that only tune how Docker Desktop or SELinux mounts, ignored here. */
const IGNORED_OPTIONS = new Set([
  "z",
  "Z",
  "cached",
  "delegated",
  "consistent",
  "nocopy",
  "rprivate",
  "private",
  "rshared",
  "shared",
  "rslave",
  "slave",
]);

/**
 * Reads one `volumes` entry: `"name:/path[:ro]"`, `"/host:/path[:ro]"`, `"./dir:/path"`,
 * `"/path"` (anonymous), or the long form `{ type, source, target, read_only, bind, volume,
 * tmpfs }`.
 */
export function composeMount(
  value: unknown,
  path: string,
  out: MountOut,
): ComposeMount | undefined {
  if (isMapping(value)) return longMount(value, path, out);
  const text = composeString(value, 'a volume such as "data:/data"', path, out.problems);
  if (text === undefined) return undefined;
  const parts = splitMount(text);
  if (parts.length === 1) {
    return target(parts[0], path, out.problems) ? anonymous(parts[0]) : undefined;
  }
  if (parts.length > 3) {
    out.problems.push({
      path,
      message: `'${text}' is not a volume; write SOURCE:/path[:ro], e.g. "data:/data"`,
    });
    return undefined;
  }
  const [source, mount, mode = ""] = parts;
  let readOnly = false;
  for (const option of mode.split(",")) {
    if (option === "ro") readOnly = true;
    else if (option !== "rw" && option !== "" && !IGNORED_OPTIONS.has(option)) {
      out.problems.push({
        path,
        message: `volume option '${option}' is not one Docker knows (ro, rw, z, Z, nocopy…); ` +
          "remove it",
      });
      return undefined;
    }
  }
  if (!target(mount, path, out.problems)) return undefined;
  return fromSource(source, mount, readOnly, path, out);
}

/** `C:\x:/y` never reaches a Linux node, so a plain split on `:` is what Docker does too. */
function splitMount(text: string): string[] {
  return text.split(":");
}

function anonymous(path: string): ComposeMount {
  return { kind: "anonymous", path };
}

/** Checks the path inside the container: absolute, and not `/`. */
function target(value: unknown, path: string, out: Problems): value is string {
  if (typeof value !== "string" || !value.startsWith("/")) {
    out.push({
      path,
      message: `${expected("an absolute path inside the container such as /config", value)}`,
    });
    return false;
  }
  if (normalizePath(value) === "/") {
    out.push({ path, message: "cannot mount on '/' inside the container; pick a directory" });
    return false;
  }
  if (value.includes("\0")) {
    out.push({ path, message: "contains a NUL character; remove it" });
    return false;
  }
  return true;
}

/** A short-form or long-form source: a host path, a relative path, or a volume name. */
function fromSource(
  source: string,
  mount: string,
  readOnly: boolean,
  path: string,
  out: MountOut,
): ComposeMount | undefined {
  const ro = readOnly ? { readOnly: true } : {};
  if (/^<[^<>]*>$/.test(source) || source.startsWith("/path/to/")) {
    const name = volumeFromPath(source.replace(/^<|>$/g, "").replace(/\s+/g, "-"), mount);
    out.warnings.push({
      path,
      message: `'${source}' is a placeholder from the docs: fossora keeps the data in the ` +
        `volume '${name}', which moves with the service; write a folder of your nodes such as ` +
        `/srv/${name} instead to use one`,
    });
    return { kind: "volume", name, path: mount, ...ro, fromPath: true };
  }
  if (source === "") {
    out.problems.push({
      path,
      message: `nothing is written before ':${mount}'; write a volume name (data:${mount}) or a ` +
        `folder of the node (/srv/data:${mount})`,
    });
    return undefined;
  }
  if (source.startsWith("/")) {
    // The fossora form's binds.ts checks the same: a path a node would not check (too long,
    // a line break, a '..') is one the service could never be placed by.
    const problem = source.includes("\0")
      ? "the host path contains a NUL character; remove it"
      : absolutePathProblem(source, "node");
    if (problem !== undefined) {
      out.problems.push({ path, message: problem });
      return undefined;
    }
    return { kind: "bind", source: normalizePath(source), path: mount, ...ro };
  }
  if (/^[.~]/.test(source) || source.includes("/")) {
    const name = volumeFromPath(source, mount);
    out.warnings.push({
      path,
      message: `'${source}' is a folder beside the compose file on your machine, which the ` +
        `nodes do not have: fossora keeps it as the volume '${name}' instead, which starts empty ` +
        "and moves with the service (copy your files into it if the service needs them)",
    });
    return { kind: "volume", name, path: mount, ...ro, fromPath: true };
  }
  if (!VOLUME_NAME.test(source)) {
    out.problems.push({
      path,
      message: `'${source}' is not a volume name Docker accepts: letters, digits, '_', '.' and ` +
        "'-', starting with a letter or digit",
    });
    return undefined;
  }
  return { kind: "volume", name: source, path: mount, ...ro };
}

/** A volume name for a relative host path: its last part (`./library` → `library`). */
function volumeFromPath(source: string, mount: string): string {
  const last = (text: string) =>
    text.split("/").filter((part) => part !== "" && part !== "." && part !== ".." && part !== "~")
      .pop();
  const base = last(source) ?? last(mount) ?? "data";
  const name = base.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return (name === "" ? "data" : name).slice(0, 128);
}

const LONG_KEYS = ["type", "source", "target", "read_only", "bind", "volume", "tmpfs"];

function longMount(
  value: Record<string, unknown>,
  path: string,
  out: MountOut,
): ComposeMount | undefined {
  for (const key of Object.keys(value)) {
    if (key === "consistency") {
      out.warnings.push({ path: keyPath(path, key), message: "is ignored (Docker Desktop only)" });
    } else if (!LONG_KEYS.includes(key)) notUnderstood(path, key, out.problems);
  }
  const type = value.type ?? "volume";
  const at = keyPath(path, "target");
  if (!target(value.target, at, out.problems)) return undefined;
  const mount = value.target as string;
  const readOnly = value.read_only === true;
  if (value.read_only !== undefined && typeof value.read_only !== "boolean") {
    out.problems.push({
      path: keyPath(path, "read_only"),
      message: expected("true or false", value.read_only),
    });
    return undefined;
  }
  if (type === "tmpfs") return longTmpfs(mount, value.tmpfs, keyPath(path, "tmpfs"), out);
  if (type !== "bind" && type !== "volume") {
    out.problems.push({
      path: keyPath(path, "type"),
      message: `${expected("volume, bind or tmpfs", type)}; Docker on Linux mounts these three`,
    });
    return undefined;
  }
  if (value.source === undefined) {
    if (type === "volume") return anonymous(mount);
    out.problems.push({ path: keyPath(path, "source"), message: "is missing; give the host path" });
    return undefined;
  }
  const source = composeString(
    value.source,
    "a path or volume name",
    keyPath(path, "source"),
    out.problems,
  );
  if (source === undefined) return undefined;
  const options = type === "bind" ? value.bind : value.volume;
  if (options !== undefined) {
    out.warnings.push({
      path: keyPath(path, type),
      message: type === "bind"
        ? "is ignored: fossora mounts host paths as Docker does by default"
        : "is ignored: fossora mounts the whole volume",
    });
  }
  if (type === "bind" && !source.startsWith("/") && !/^[.~]/.test(source)) {
    out.problems.push({
      path: keyPath(path, "source"),
      message: `a bind mount needs a host path such as /srv/media, found '${source}'`,
    });
    return undefined;
  }
  return fromSource(source, mount, readOnly, keyPath(path, "source"), out);
}

function longTmpfs(
  mount: string,
  options: unknown,
  path: string,
  out: MountOut,
): ComposeMount | undefined {
  const tmpfs: ComposeMount = { kind: "tmpfs", path: mount };
  if (options === undefined) return tmpfs;
  if (!isMapping(options)) {
    out.problems.push({ path, message: expected("a mapping with size and mode", options) });
    return undefined;
  }
  for (const key of Object.keys(options)) {
    if (key !== "size" && key !== "mode") notUnderstood(path, key, out.problems);
  }
  if (options.size !== undefined) {
    const size = parseBytes(options.size);
    if (size === undefined) {
      out.problems.push({
        path: keyPath(path, "size"),
        message: expected("a size such as 64m", options.size),
      });
      return undefined;
    }
    tmpfs.size = size;
  }
  if (options.mode !== undefined) {
    const mode = typeof options.mode === "number"
      ? options.mode
      : parseInt(String(options.mode), 8);
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      out.problems.push({
        path: keyPath(path, "mode"),
        message: expected("a file mode such as 1777", options.mode),
      });
      return undefined;
    }
    tmpfs.mode = mode;
  }
  return tmpfs;
}

/**
 * Reads one `tmpfs:` entry as Docker's `--tmpfs` takes it: `/run` or `/run:size=64m,mode=1777`
 * (other options such as `noexec` are Docker's defaults or ignored with a warning).
 */
export function composeTmpfs(
  value: unknown,
  path: string,
  out: MountOut,
): ComposeMount | undefined {
  const text = composeString(value, "a path such as /run or /run:size=64m", path, out.problems);
  if (text === undefined) return undefined;
  const colon = text.indexOf(":");
  const mount = colon < 0 ? text : text.slice(0, colon);
  if (!target(mount, path, out.problems)) return undefined;
  const tmpfs: ComposeMount = { kind: "tmpfs", path: mount };
  if (colon < 0) return tmpfs;
  for (const option of text.slice(colon + 1).split(",")) {
    const [key, val] = option.split("=");
    if (key === "size" && parseBytes(val) !== undefined) tmpfs.size = parseBytes(val);
    else if (key === "mode" && /^[0-7]{1,4}$/.test(val ?? "")) tmpfs.mode = parseInt(val, 8);
    else {
      out.warnings.push({ path, message: `tmpfs option '${option}' is ignored` });
    }
  }
  return tmpfs;
}
