/**
 * Checks of what a service takes from its node: host paths bind-mounted into the container
 * (`binds`), host devices (`devices`) and the node's network (`hostNetwork`). Shared by the
 * fossora form (validate.ts); the compose form may reuse them.
 * @module
 */
import {
  type BindSpec,
  type DeviceSpec,
  MAX_HOST_PATH_CHARS,
  type PortSpec,
} from "../state/types.ts";
import { checkBoolean, checkVolumePath } from "./fields.ts";
import { expected, indexPath, isMapping, keyPath, type Problems, unknownKeys } from "./problems.ts";

/** The most binds, and the most devices, one service may have. */
export const MAX_HOST_ITEMS = 64;

const PERMISSIONS = /^(?=.)r?w?m?$/;

/** Checks `binds: [{ source: /srv/media, path: /media, readOnly: true }]`. */
export function checkBinds(value: unknown, path: string, out: Problems): BindSpec[] {
  return checkList(
    value,
    path,
    out,
    "binds such as [{ source: /srv/media, path: /media }]",
    (raw, at) => {
      unknownKeys(raw, ["source", "path", "readOnly"], at, out);
      const source = checkHostPath(raw.source, keyPath(at, "source"), out);
      const target = checkVolumePath(raw.path, keyPath(at, "path"), out);
      const readOnly = raw.readOnly === undefined
        ? false
        : checkBoolean(raw.readOnly, keyPath(at, "readOnly"), out);
      if (source === undefined || target === undefined) return undefined;
      return { source, path: target, ...(readOnly ? { readOnly: true } : {}) };
    },
  );
}

/** Checks `devices: [{ host: /dev/dri, container: /dev/dri, permissions: rwm }]`. */
export function checkDevices(value: unknown, path: string, out: Problems): DeviceSpec[] {
  return checkList(value, path, out, "devices such as [{ host: /dev/dri }]", (raw, at) => {
    unknownKeys(raw, ["host", "container", "permissions"], at, out);
    const host = checkHostPath(raw.host, keyPath(at, "host"), out);
    const container = raw.container === undefined
      ? undefined
      : checkVolumePath(raw.container, keyPath(at, "container"), out);
    let permissions: string | undefined;
    if (raw.permissions !== undefined) {
      if (typeof raw.permissions === "string" && PERMISSIONS.test(raw.permissions)) {
        permissions = raw.permissions;
      } else {
        out.push({
          path: keyPath(at, "permissions"),
          message: expected("some of r, w and m in that order, e.g. rw", raw.permissions),
        });
      }
    }
    if (host === undefined) return undefined;
    return {
      host,
      ...(container !== undefined ? { container } : {}),
      ...(permissions !== undefined ? { permissions } : {}),
    };
  });
}

/** Checks a path on the node: absolute, bounded, no NUL. */
export function checkHostPath(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value !== "string" || !value.startsWith("/")) {
    out.push({ path, message: expected("an absolute path on the node such as /srv/media", value) });
    return undefined;
  }
  if (value.length > MAX_HOST_PATH_CHARS) {
    out.push({
      path,
      message: `is ${value.length} characters long; at most ${MAX_HOST_PATH_CHARS} are allowed`,
    });
    return undefined;
  }
  if (value.includes("\0")) {
    out.push({ path, message: "contains a NUL character; remove it" });
    return undefined;
  }
  return value;
}

/**
 * With host networking, a port published through the routing mesh under its own number is a
 * port every node listens on, the container's node too: it could never start there.
 */
export function hostNetworkProblems(
  ports: PortSpec[],
  publishedPaths: string[],
  out: Problems,
): void {
  ports.forEach((p, i) => {
    if (p.published === p.container) {
      out.push({
        path: publishedPaths[i],
        message: `with host networking, container port ${p.container} is the node's port ` +
          `${p.container} already, and the routing mesh listens on a published port on every ` +
          "node; remove published (reach it at the node's address), or publish another number",
      });
    }
  });
}

function checkList<T>(
  value: unknown,
  path: string,
  out: Problems,
  shape: string,
  item: (raw: Record<string, unknown>, at: string) => T | undefined,
): T[] {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected(`a list of ${shape}`, value) });
    return [];
  }
  if (value.length > MAX_HOST_ITEMS) {
    out.push({ path, message: `lists ${value.length}; at most ${MAX_HOST_ITEMS} are allowed` });
    return [];
  }
  const found: T[] = [];
  value.forEach((raw, i) => {
    const at = indexPath(path, i);
    if (!isMapping(raw)) {
      out.push({ path: at, message: expected(`one of ${shape}`, raw) });
      return;
    }
    const one = item(raw, at);
    if (one !== undefined) found.push(one);
  });
  return found;
}
