/**
 * Host paths mounted into a container (fossora files: `binds: [{ source, path, readOnly }]`):
 * a directory or a single file of the node, such as `/srv/media` or `/etc/localtime`.
 * @module
 */
import type { BindSpec } from "../state/types.ts";
import { checkBoolean } from "./fields.ts";
import { checkAbsolutePath, tooManyHostItems } from "./host_path.ts";
import { expected, indexPath, isMapping, keyPath, type Problems, unknownKeys } from "./problems.ts";

/** Checks one bind mount mapping; returns it when valid. */
export function checkBind(item: unknown, path: string, out: Problems): BindSpec | undefined {
  if (!isMapping(item)) {
    out.push({
      path,
      message: expected("a mapping such as { source: /srv/media, path: /media }", item),
    });
    return undefined;
  }
  unknownKeys(item, ["source", "path", "readOnly"], path, out);
  const before = out.length;
  for (const key of ["source", "path"]) {
    if (item[key] === undefined) {
      out.push({
        path: keyPath(path, key),
        message: key === "source"
          ? "is missing; give the absolute path on the node, e.g. /srv/media"
          : "is missing; give the absolute path inside the container, e.g. /media",
      });
    }
  }
  if (out.length > before) return undefined;
  const source = checkAbsolutePath(item.source, keyPath(path, "source"), out, "node");
  const target = checkAbsolutePath(item.path, keyPath(path, "path"), out, "container", true);
  const readOnly = item.readOnly === undefined
    ? false
    : checkBoolean(item.readOnly, keyPath(path, "readOnly"), out);
  if (source === undefined || target === undefined || readOnly === undefined) return undefined;
  // Stored only when true, as a spec without it was written.
  return { source, path: target, ...(readOnly ? { readOnly: true } : {}) };
}

/** Checks a list of bind mounts; returns the valid ones (all of them when nothing was pushed). */
export function checkBinds(value: unknown, path: string, out: Problems): BindSpec[] {
  if (!Array.isArray(value)) {
    out.push({
      path,
      message: expected("a list such as [{ source: /srv/media, path: /media }]", value),
    });
    return [];
  }
  if (tooManyHostItems(value, path, out)) return [];
  return value.flatMap((item, i) => checkBind(item, indexPath(path, i), out) ?? []);
}
