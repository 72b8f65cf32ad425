/**
 * Host devices given to a container (`docker run --device HOST[:CONTAINER[:PERMISSIONS]]`;
 * fossora files: `devices: [{ host, container, permissions }]`), such as `/dev/dri` for a GPU or
 * `/dev/ttyUSB0` for a Zigbee stick.
 * @module
 */
import type { DeviceSpec } from "../state/types.ts";
import { checkAbsolutePath, tooManyHostItems } from "./host_path.ts";
import { expected, indexPath, isMapping, keyPath, type Problems, unknownKeys } from "./problems.ts";

/** Why `text` is not cgroup device permissions (some of `rwm`, each once), or undefined. */
export function permissionsProblem(text: string): string | undefined {
  if (/^(?!.*(.).*\1)[rwm]{1,3}$/.test(text)) return undefined;
  return `'${text}' is not device permissions; write some of r (read), w (write) and m (mknod), ` +
    "e.g. rwm or r";
}

/**
 * `{ host, container, permissions }` from Docker's `HOST[:CONTAINER[:PERMISSIONS]]`, without
 * checking its parts (checkDevice does); a second part of only `rwm` letters is permissions.
 */
export function parseDevice(
  text: string,
): { host: string; container?: string; permissions?: string } {
  const [host, second, ...rest] = text.split(":");
  // Docker refuses a fourth part; kept in the permissions, checkDevice refuses it too.
  if (rest.length > 0) return { host, container: second, permissions: rest.join(":") };
  if (second === undefined) return { host };
  return /^[rwm]+$/.test(second) ? { host, permissions: second } : { host, container: second };
}

/** Checks one device mapping; returns it when valid (absent parts stay absent). */
export function checkDevice(item: unknown, path: string, out: Problems): DeviceSpec | undefined {
  if (!isMapping(item)) {
    out.push({ path, message: expected("a mapping such as { host: /dev/dri }", item) });
    return undefined;
  }
  unknownKeys(item, ["host", "container", "permissions"], path, out);
  const at = keyPath(path, "host");
  if (item.host === undefined) {
    out.push({
      path: at,
      message: "is missing; give the device's path on the node, e.g. /dev/dri",
    });
    return undefined;
  }
  const before = out.length;
  const host = checkAbsolutePath(item.host, at, out, "device");
  // Not only /dev: Docker takes any path to a device node, and whether a node has one there is
  // what the node reports and the scheduler checks ("…, but it is not a device").
  const container = item.container === undefined
    ? undefined
    : checkAbsolutePath(item.container, keyPath(path, "container"), out, "container", true);
  let permissions: string | undefined;
  if (item.permissions !== undefined) {
    const p = keyPath(path, "permissions");
    if (typeof item.permissions !== "string") {
      out.push({ path: p, message: expected("some of r, w and m, e.g. rwm", item.permissions) });
    } else {
      const problem = permissionsProblem(item.permissions);
      if (problem) out.push({ path: p, message: problem });
      else permissions = item.permissions;
    }
  }
  if (out.length > before || host === undefined) return undefined;
  return {
    host,
    ...(container !== undefined ? { container } : {}),
    ...(permissions !== undefined ? { permissions } : {}),
  };
}

/** Checks a list of devices; returns the valid ones (all of them when nothing was pushed). */
export function checkDevices(value: unknown, path: string, out: Problems): DeviceSpec[] {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected("a list such as [{ host: /dev/dri }]", value) });
    return [];
  }
  if (tooManyHostItems(value, path, out)) return [];
  return value.flatMap((item, i) => checkDevice(item, indexPath(path, i), out) ?? []);
}
