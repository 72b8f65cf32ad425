/**
 * Absolute paths of files and directories, on the node (a bind mount's source, a device) or
 * inside the container (a mount point, the working directory): no relative path, no `..` that
 * would climb out of where it seems to point, no control character Docker cannot carry.
 * @module
 */
import { MAX_HOST_PATH_CHARS } from "../state/types.ts";
import { expected, type Problems } from "./problems.ts";

/**
 * The most binds, or devices, one service lists: with {@link MAX_HOST_PATH_CHARS} this bounds
 * what a hostile spec can make each node check and report.
 */
export const MAX_HOST_ITEMS = 64;

/** Where a path is (a device is on the node too): it picks the example in the message. */
export type PathSide = "node" | "device" | "container";

const EXAMPLE: Record<PathSide, string> = {
  node: "/srv/media",
  device: "/dev/dri",
  container: "/media",
};

/** Why `text` is not a clean absolute path, or undefined when it is one. */
export function absolutePathProblem(text: string, side: PathSide): string | undefined {
  const where = side === "container" ? "inside the container" : "on the node";
  // A node checks only paths up to this long: a longer one could never be placed.
  if (text.length > MAX_HOST_PATH_CHARS) {
    return `is ${text.length} characters long; at most ${MAX_HOST_PATH_CHARS} are allowed`;
  }
  if (/[\0\r\n]/.test(text)) {
    return "contains a NUL or line break; remove it";
  }
  if (!text.startsWith("/")) {
    return `'${text}' is not an absolute path; write the full path ${where}, e.g. ${EXAMPLE[side]}`;
  }
  if (text.split("/").includes("..")) {
    return `'${text}' contains '..'; write the path it means without it`;
  }
  return undefined;
}

/**
 * Checks an absolute path on the `side` given; a mount point (`mountPoint`) may not be `/`.
 * Returns the path when valid.
 */
export function checkAbsolutePath(
  value: unknown,
  path: string,
  out: Problems,
  side: PathSide,
  mountPoint = false,
): string | undefined {
  if (typeof value !== "string") {
    out.push({ path, message: expected(`an absolute path such as ${EXAMPLE[side]}`, value) });
    return undefined;
  }
  const problem = absolutePathProblem(value, side) ??
    (mountPoint && /^\/+$/.test(value)
      ? "nothing can be mounted on '/'; pick a directory"
      : undefined);
  if (problem === undefined) return value;
  out.push({ path, message: problem });
  return undefined;
}

/** Whether the list `value` is longer than {@link MAX_HOST_ITEMS}; if so, says so at `path`. */
export function tooManyHostItems(value: unknown[], path: string, out: Problems): boolean {
  if (value.length <= MAX_HOST_ITEMS) return false;
  out.push({ path, message: `lists ${value.length}; at most ${MAX_HOST_ITEMS} are allowed` });
  return true;
}
