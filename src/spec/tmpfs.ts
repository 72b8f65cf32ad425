/**
 * Memory-backed mounts (`docker run --tmpfs PATH[:size=SIZE,mode=MODE]`; fossora files:
 * `tmpfs: [/run, { path: /cache, size: 64m, mode: "1777" }]`). A mode is octal digits in a
 * string: a YAML number would be read as decimal (1777) or octal (0o1777) depending on how it
 * is written, and the wrong one silently gives other permissions.
 * @module
 */
import type { TmpfsSpec } from "../state/types.ts";
import { checkBytes, parseBytes } from "./bytes.ts";
import { checkAbsolutePath } from "./host_path.ts";
import { expected, indexPath, isMapping, keyPath, type Problems, unknownKeys } from "./problems.ts";

/** A file mode from octal digits (`1777`, `0755`, `0o700`), or undefined when it is not one. */
export function parseMode(text: string): number | undefined {
  const m = /^(?:0o)?([0-7]{1,4})$/.exec(text.trim());
  return m ? parseInt(m[1], 8) : undefined;
}

function checkMode(value: unknown, path: string, out: Problems): number | undefined {
  const mode = typeof value === "string" ? parseMode(value) : undefined;
  if (mode === undefined) {
    out.push({
      path,
      message: expected('octal digits in quotes, e.g. mode: "1777"', value),
    });
  }
  return mode;
}

/**
 * A tmpfs from Docker's `PATH[:size=SIZE,mode=MODE]` (size in bytes or `64m`), or the reason
 * it is not one. Other options (`uid=`, `noexec`…) are refused: Docker would apply them but
 * TmpfsSpec cannot carry them, and dropping them would change what the file means.
 */
export function parseTmpfs(text: string): { value: TmpfsSpec } | { problem: string } {
  const colon = text.indexOf(":");
  const path = colon < 0 ? text : text.slice(0, colon);
  const out: Problems = [];
  if (checkAbsolutePath(path, "", out, "container", true) === undefined) {
    return { problem: out[0].message };
  }
  const spec: TmpfsSpec = { path };
  if (colon < 0) return { value: spec };
  for (const opt of text.slice(colon + 1).split(",")) {
    const [key, val = ""] = opt.split("=", 2);
    if (key === "size" && parseBytes(val) !== undefined) spec.size = parseBytes(val);
    else if (key === "mode" && parseMode(val) !== undefined) spec.mode = parseMode(val);
    else {
      return {
        problem: `tmpfs option '${opt}' is not size=SIZE or mode=OCTAL; write e.g. ` +
          `${path}:size=64m,mode=1777`,
      };
    }
  }
  return { value: spec };
}

/** Checks one tmpfs, a path or `{ path, size, mode }`; returns it when valid. */
export function checkTmpfsItem(item: unknown, path: string, out: Problems): TmpfsSpec | undefined {
  if (typeof item === "string") {
    const r = parseTmpfs(item);
    if ("problem" in r) out.push({ path, message: r.problem });
    return "value" in r ? r.value : undefined;
  }
  if (!isMapping(item)) {
    out.push({ path, message: expected("a path, or { path, size, mode }", item) });
    return undefined;
  }
  unknownKeys(item, ["path", "size", "mode"], path, out);
  if (item.path === undefined) {
    out.push({
      path: keyPath(path, "path"),
      message: "is missing; give the mount point, e.g. /run",
    });
    return undefined;
  }
  const before = out.length;
  const at = checkAbsolutePath(item.path, keyPath(path, "path"), out, "container", true);
  const size = item.size === undefined
    ? undefined
    : checkBytes(item.size, keyPath(path, "size"), out, "a tmpfs size");
  const mode = item.mode === undefined
    ? undefined
    : checkMode(item.mode, keyPath(path, "mode"), out);
  if (out.length > before || at === undefined) return undefined;
  return {
    path: at,
    ...(size !== undefined ? { size } : {}),
    ...(mode !== undefined ? { mode } : {}),
  };
}

/** Checks a list of tmpfs mounts; returns the valid ones (all of them when nothing was pushed). */
export function checkTmpfs(value: unknown, path: string, out: Problems): TmpfsSpec[] {
  if (!Array.isArray(value)) {
    out.push({
      path,
      message: expected("a list such as [/run, { path: /cache, size: 64m }]", value),
    });
    return [];
  }
  return value.flatMap((item, i) => checkTmpfsItem(item, indexPath(path, i), out) ?? []);
}
