/**
 * Reads the compose keys that are Docker settings of the container (`user`, `cap_add`,
 * `sysctls`, `ulimits`, …) into fossora's `ContainerOptions`, `devices` into `DeviceSpec`s.
 * Each keeps Docker's meaning; the forms compose allows (a list or a mapping, a number or a
 * string with a unit) are all read.
 * @module
 */

import type { ContainerOptions, DeviceSpec, Ulimit } from "../state/types.ts";
import { parseDuration } from "./healthcheck.ts";
import { checkCommand, checkStringish, parseMemory, setOwn } from "./fields.ts";
import { composeString, splitCommand } from "./compose_fields.ts";
import {
  describe,
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
} from "./problems.ts";

/** The compose keys this file reads, each to the ContainerOptions field of the same meaning. */
export const OPTION_KEYS = [
  "user",
  "working_dir",
  "entrypoint",
  "cap_add",
  "cap_drop",
  "privileged",
  "sysctls",
  "shm_size",
  "read_only",
  "security_opt",
  "init",
  "labels",
  "extra_hosts",
  "stop_signal",
  "stop_grace_period",
  "ulimits",
  "platform",
  "mem_limit",
  "memswap_limit",
  "cpus",
  "pids_limit",
] as const;

/** Reads the container settings of one compose service `def` at `path`. */
export function composeOptions(
  def: Record<string, unknown>,
  path: string,
  out: { problems: Problems; warnings: Problems },
): ContainerOptions {
  const o: ContainerOptions = {};
  const p = out.problems;
  const at = (key: string) => keyPath(path, key);
  const text = (key: string, what: string) =>
    def[key] === undefined ? undefined : composeString(stringish(def[key]), what, at(key), p);
  const flag = (key: string) => {
    if (def[key] === undefined) return undefined;
    if (typeof def[key] === "boolean") return def[key] as boolean;
    p.push({ path: at(key), message: expected("true or false", def[key]) });
    return undefined;
  };
  const user = text("user", "a user such as 1000 or 1000:1000");
  if (user !== undefined) o.user = user;
  const workingDir = text("working_dir", "an absolute path such as /app");
  if (workingDir !== undefined) {
    if (workingDir.startsWith("/")) o.workingDir = workingDir;
    else p.push({ path: at("working_dir"), message: `'${workingDir}' is not an absolute path` });
  }
  if (def.entrypoint !== undefined) {
    const entrypoint = readEntrypoint(def.entrypoint, at("entrypoint"), p);
    if (entrypoint !== undefined) o.entrypoint = entrypoint;
  }
  for (const [key, field] of [["cap_add", "capAdd"], ["cap_drop", "capDrop"]] as const) {
    if (def[key] === undefined) continue;
    const caps = stringList(def[key], "capability names such as [NET_ADMIN]", at(key), p);
    if (caps === undefined) continue;
    const bad = caps.findIndex((cap) => !/^(CAP_)?[A-Z_]+$|^ALL$/i.test(cap));
    if (bad >= 0) {
      p.push({
        path: indexPath(at(key), bad),
        message: `'${caps[bad]}' is not a capability name; write it like NET_ADMIN`,
      });
    } else o[field] = caps.map((cap) => cap.toUpperCase());
  }
  const privileged = flag("privileged");
  if (privileged) {
    o.privileged = true;
    out.warnings.push({
      path: at("privileged"),
      message: "runs with every capability and device of the node: it can take over the node " +
        "(and so the cluster's secrets on it); keep it only if the app needs it",
    });
  }
  if (def.sysctls !== undefined) {
    const sysctls = stringMap(
      def.sysctls,
      "sysctls such as net.core.somaxconn: 1024",
      at("sysctls"),
      p,
    );
    if (sysctls !== undefined) o.sysctls = sysctls;
  }
  if (def.shm_size !== undefined) {
    const size = parseMemory(def.shm_size);
    if (size === undefined) {
      p.push({ path: at("shm_size"), message: expected("a size such as 256m", def.shm_size) });
    } else o.shmSize = size;
  }
  if (flag("read_only")) o.readOnly = true;
  if (def.security_opt !== undefined) {
    const list = stringList(
      def.security_opt,
      "options such as [no-new-privileges:true]",
      at("security_opt"),
      p,
    );
    if (list !== undefined) o.securityOpt = list;
  }
  if (flag("init")) o.init = true;
  if (def.labels !== undefined) {
    const labels = stringMap(
      def.labels,
      "labels as a mapping or a list of KEY=VALUE",
      at("labels"),
      p,
    );
    if (labels !== undefined) o.labels = labels;
  }
  if (def.extra_hosts !== undefined) {
    const hosts = readExtraHosts(def.extra_hosts, at("extra_hosts"), p);
    if (hosts !== undefined) o.extraHosts = hosts;
  }
  const signal = text("stop_signal", "a signal such as SIGINT");
  if (signal !== undefined) {
    if (/^(SIG)?[A-Z0-9+-]+$|^\d+$/i.test(signal)) o.stopSignal = signal.toUpperCase();
    else {p.push({
        path: at("stop_signal"),
        message: `'${signal}' is not a signal; write it like SIGINT`,
      });}
  }
  const grace = text("stop_grace_period", "a duration such as 30s or 1m30s");
  if (grace !== undefined) {
    if (parseDuration(grace) !== undefined) o.stopGracePeriod = grace;
    else {
      p.push({
        path: at("stop_grace_period"),
        message: `'${grace}' is not a duration; write it like 30s or 1m30s`,
      });
    }
  }
  if (def.ulimits !== undefined) {
    const ulimits = readUlimits(def.ulimits, at("ulimits"), p);
    if (ulimits !== undefined) o.ulimits = ulimits;
  }
  const platform = text("platform", "a platform such as linux/arm64");
  if (platform !== undefined) {
    if (/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(platform)) o.platform = platform;
    else {p.push({
        path: at("platform"),
        message: `'${platform}' is not a platform; write OS/ARCH such as linux/arm64`,
      });}
  }
  readLegacyLimits(def, path, o, out);
  return o;
}

/**
 * A number of CPUs as compose writes it, `0.5` or `"0.5"`; NaN for anything else (`true`,
 * `[2]` and `"0x10"` are numbers to `Number()`, not to Docker).
 */
export function cpuCount(value: unknown): number {
  if (typeof value === "number") return value;
  return typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
}

/** YAML reads `user: 1000` as a number; Docker takes it as the string it is. */
function stringish(value: unknown): unknown {
  return typeof value === "number" ? String(value) : value;
}

function readEntrypoint(value: unknown, path: string, out: Problems): string[] | undefined {
  if (typeof value === "string") {
    const words = splitCommand(value);
    if (Array.isArray(words)) return words;
    out.push({ path, message: `cannot be split into arguments: ${words.error}` });
    return undefined;
  }
  if (Array.isArray(value) && value.length === 0) return [];
  return checkCommand(value, path, out);
}

/** A list of strings (numbers as written); a single string is a list of one. */
function stringList(
  value: unknown,
  what: string,
  path: string,
  out: Problems,
): string[] | undefined {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list)) {
    out.push({ path, message: expected(`a list of ${what}`, value) });
    return undefined;
  }
  const done = list.map((item, i) => checkStringish(item, indexPath(path, i), out));
  return done.every((item) => item !== undefined) ? done as string[] : undefined;
}

/** A mapping, or a list of `KEY=VALUE`, of strings. */
function stringMap(
  value: unknown,
  what: string,
  path: string,
  out: Problems,
): Record<string, string> | undefined {
  const map: Record<string, string> = {};
  const before = out.length;
  if (isMapping(value)) {
    for (const [key, raw] of entries(value)) {
      const text = checkStringish(raw ?? "", keyPath(path, key), out);
      if (text !== undefined) setOwn(map, key, text);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (typeof item !== "string") {
        out.push({ path: indexPath(path, i), message: expected("a string KEY=VALUE", item) });
        return;
      }
      const eq = item.indexOf("=");
      setOwn(map, eq < 0 ? item : item.slice(0, eq), eq < 0 ? "" : item.slice(eq + 1));
    });
  } else {
    out.push({ path, message: expected(what, value) });
  }
  return out.length > before ? undefined : map;
}

/** `["host:1.2.3.4"]`, `["host=1.2.3.4"]` or `{host: 1.2.3.4}`, as `NAME:ADDRESS`. */
function readExtraHosts(value: unknown, path: string, out: Problems): string[] | undefined {
  const before = out.length;
  const pairs: [string, string, string][] = [];
  if (isMapping(value)) {
    for (const [name, address] of entries(value)) {
      if (typeof address === "string") pairs.push([name, address, keyPath(path, name)]);
      else {
        out.push({ path: keyPath(path, name), message: expected("an address", address) });
      }
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      if (typeof item !== "string") {
        out.push({ path: indexPath(path, i), message: expected("a string NAME:ADDRESS", item) });
        return;
      }
      const text = item;
      const sep = text.includes("=") ? text.indexOf("=") : text.indexOf(":");
      pairs.push([
        sep < 0 ? text : text.slice(0, sep),
        sep < 0 ? "" : text.slice(sep + 1),
        indexPath(path, i),
      ]);
    });
  } else {
    out.push({
      path,
      message: expected('a list such as ["host.docker.internal:host-gateway"]', value),
    });
    return undefined;
  }
  const hosts = pairs.map(([name, address, at]) => {
    if (
      !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(name) ||
      !/^[0-9A-Fa-f.:[\]]+$|^host-gateway$/.test(address)
    ) {
      out.push({
        path: at,
        message: `'${name}:${address}' is not NAME:ADDRESS, e.g. nas:192.168.1.10`,
      });
    }
    return `${name}:${address.replace(/^\[|\]$/g, "")}`;
  });
  return out.length > before ? undefined : hosts;
}

/** `nofile: 65535` or `nofile: {soft: 1024, hard: 65535}`. */
function readUlimits(value: unknown, path: string, out: Problems): Ulimit[] | undefined {
  if (!isMapping(value)) {
    out.push({
      path,
      message: expected("a mapping such as {nofile: {soft: 1024, hard: 65535}}", value),
    });
    return undefined;
  }
  const before = out.length;
  const ulimits: Ulimit[] = [];
  for (const [name, limit] of entries(value)) {
    const at = keyPath(path, name);
    if (!/^[a-z]+$/.test(name)) {
      out.push({ path: at, message: `'${name}' is not a ulimit name such as nofile or nproc` });
    } else if (Number.isInteger(limit)) {
      ulimits.push({ name, soft: limit as number, hard: limit as number });
    } else if (isMapping(limit) && Number.isInteger(limit.soft) && Number.isInteger(limit.hard)) {
      ulimits.push({ name, soft: limit.soft as number, hard: limit.hard as number });
    } else {
      out.push({ path: at, message: expected("a number, or {soft: N, hard: N}", limit) });
    }
  }
  return out.length > before ? undefined : ulimits;
}

/** Compose's older `mem_limit`, `cpus`, `pids_limit` keys: the same limits as deploy's. */
function readLegacyLimits(
  def: Record<string, unknown>,
  path: string,
  o: ContainerOptions,
  out: { problems: Problems; warnings: Problems },
): void {
  const limits: NonNullable<ContainerOptions["limits"]> = {};
  if (def.mem_limit !== undefined) {
    const memory = parseMemory(def.mem_limit);
    if (memory === undefined) {
      out.problems.push({
        path: keyPath(path, "mem_limit"),
        message: expected("a size such as 512m", def.mem_limit),
      });
    } else limits.memory = memory;
  }
  if (def.memswap_limit !== undefined) {
    out.warnings.push({
      path: keyPath(path, "memswap_limit"),
      message: "is ignored: fossora sets memory limits only",
    });
  }
  if (def.cpus !== undefined) {
    const cpus = cpuCount(def.cpus);
    if (!(cpus > 0)) {
      out.problems.push({
        path: keyPath(path, "cpus"),
        message: expected("a number of CPUs such as 0.5", def.cpus),
      });
    } else limits.cpus = cpus;
  }
  if (def.pids_limit !== undefined) {
    if (Number.isInteger(def.pids_limit) && (def.pids_limit as number) > 0) {
      limits.pids = def.pids_limit as number;
    } else if (def.pids_limit !== -1 && def.pids_limit !== 0) {
      out.problems.push({
        path: keyPath(path, "pids_limit"),
        message: expected("a positive integer", def.pids_limit),
      });
    }
  }
  if (Object.keys(limits).length > 0) o.limits = limits;
}

/**
 * Reads `devices`: `"/dev/dri"`, `"/dev/ttyUSB0:/dev/ttyACM0"`, `"/dev/sda:/dev/xvda:rwm"`, or
 * the long form `{ source, target, permissions }`.
 */
export function composeDevices(
  value: unknown,
  path: string,
  out: Problems,
): DeviceSpec[] | undefined {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected('a list of devices such as ["/dev/dri:/dev/dri"]', value) });
    return undefined;
  }
  const before = out.length;
  const devices: DeviceSpec[] = [];
  value.forEach((item, i) => {
    const at = indexPath(path, i);
    let host: unknown, container: unknown, permissions: unknown;
    if (isMapping(item)) ({ source: host, target: container, permissions } = item);
    else if (typeof item === "string") [host, container, permissions] = item.split(":");
    if (typeof host !== "string" || !host.startsWith("/") || host.includes("\0")) {
      out.push({
        path: at,
        message: expected('a device such as "/dev/dri" or "/dev/ttyUSB0:/dev/ttyUSB0"', item),
      });
      return;
    }
    const device: DeviceSpec = { host };
    if (container !== undefined && container !== host) {
      if (typeof container !== "string" || !container.startsWith("/")) {
        out.push({
          path: at,
          message: `the path inside the container must be absolute, found ${describe(container)}`,
        });
        return;
      }
      device.container = container;
    }
    if (permissions !== undefined && permissions !== "rwm") {
      if (typeof permissions !== "string" || !/^[rwm]{1,3}$/.test(permissions)) {
        out.push({ path: at, message: "permissions are some of r, w and m, e.g. rwm" });
        return;
      }
      device.permissions = permissions;
    }
    devices.push(device);
  });
  return out.length > before ? undefined : devices;
}
