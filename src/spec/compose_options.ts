/**
 * Reads the compose keys that are Docker settings of the container (`user`, `cap_add`,
 * `sysctls`, `ulimits`, …) into fossora's `ContainerOptions`, `devices` into `DeviceSpec`s.
 * Each keeps Docker's meaning; the forms compose allows (a list or a mapping, a number or a
 * string with a unit) are all read.
 * @module
 */

import type { ContainerOptions, DeviceSpec } from "../state/types.ts";
import { checkBoolean, checkCommand, setOwn } from "./fields.ts";
import { checkBytes, parseBytes } from "./bytes.ts";
import { checkCapability } from "./capability.ts";
import { checkContainerLabels, checkGracePeriod } from "./container.ts";
import { checkDevice, parseDevice } from "./device.ts";
import { checkExtraHosts } from "./extra_host.ts";
import { checkAbsolutePath, tooManyHostItems } from "./host_path.ts";
import { checkPlatform } from "./platform.ts";
import { checkSecurityOpt } from "./security_opt.ts";
import { checkSignal } from "./signal.ts";
import { checkSysctls } from "./sysctl.ts";
import { checkUlimits } from "./ulimit.ts";
import { checkUser } from "./user.ts";
import { splitCommand } from "./compose_fields.ts";
import {
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
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
  "group_add",
  "device_cgroup_rules",
  "runtime",
] as const;

/**
 * Reads the container settings of one compose service `def` at `path`, each value checked by
 * the same checker as the fossora form's `container:` (so both say the same about a mistake).
 */
export function composeOptions(
  def: Record<string, unknown>,
  path: string,
  out: { problems: Problems; warnings: Problems },
): ContainerOptions {
  const o: ContainerOptions = {};
  const p = out.problems;
  const at = (key: string) => keyPath(path, key);
  const set = <K extends keyof ContainerOptions>(
    key: string,
    field: K,
    check: (value: unknown, path: string, out: Problems) => ContainerOptions[K] | undefined,
  ) => {
    if (def[key] === undefined) return;
    const value = check(def[key], at(key), p);
    if (value !== undefined) o[field] = value;
  };
  const flag = (value: unknown, path: string, out: Problems) =>
    checkBoolean(value, path, out) || undefined;
  set("user", "user", checkUser);
  set("working_dir", "workingDir", (v, at, out) => checkAbsolutePath(v, at, out, "container"));
  set("entrypoint", "entrypoint", readEntrypoint);
  set("cap_add", "capAdd", (v, at, out) => eachOf(v, at, out, checkCapability));
  set("cap_drop", "capDrop", (v, at, out) => eachOf(v, at, out, checkCapability));
  set("privileged", "privileged", flag);
  if (o.privileged) {
    out.warnings.push({
      path: at("privileged"),
      message: "runs with every capability and device of the node: it can take over the node " +
        "(and so the cluster's secrets on it); keep it only if the app needs it",
    });
  }
  set("sysctls", "sysctls", (v, at, out) => checkSysctls(v, at, out, def.network_mode === "host"));
  set("shm_size", "shmSize", checkBytes);
  set("read_only", "readOnly", flag);
  set("security_opt", "securityOpt", (v, at, out) => eachOf(v, at, out, checkSecurityOpt));
  set("init", "init", flag);
  set("labels", "labels", readLabels);
  set("extra_hosts", "extraHosts", (v, at, out) =>
    // Compose also writes `NAME=ADDRESS`; Docker's form is `NAME:ADDRESS`.
    checkExtraHosts(
      Array.isArray(v) ? v.map((h) => typeof h === "string" ? h.replace("=", ":") : h) : v,
      at,
      out,
    ));
  set("stop_signal", "stopSignal", checkSignal);
  set("stop_grace_period", "stopGracePeriod", checkGracePeriod);
  set("ulimits", "ulimits", checkUlimits);
  set("platform", "platform", checkPlatform);
  set("group_add", "groupAdd", (v, at, out) => eachOf(v, at, out, checkGroup));
  set("device_cgroup_rules", "deviceCgroupRules", (v, at, out) => eachOf(v, at, out, checkRule));
  set("runtime", "runtime", checkRuntime);
  if (o.runtime !== undefined) {
    out.warnings.push({
      path: at("runtime"),
      message: `runs only on nodes whose Docker has the ${o.runtime} runtime installed`,
    });
  }
  readLegacyLimits(def, path, o, out);
  return o;
}

/** A list (or one value) whose items `check` takes one at a time. */
function eachOf(
  value: unknown,
  path: string,
  out: Problems,
  check: (value: unknown, path: string, out: Problems) => string | undefined,
): string[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  const before = out.length;
  const done = list.map((item, i) =>
    check(
      typeof item === "number" ? String(item) : item,
      Array.isArray(value) ? indexPath(path, i) : path,
      out,
    )
  );
  return out.length > before ? undefined : done as string[];
}

function checkGroup(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value === "string" && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(value)) return value;
  out.push({ path, message: expected("a group name or number such as render or 109", value) });
  return undefined;
}

function checkRule(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value === "string" && /^[abc] (\d+|\*):(\d+|\*) [rwm]{1,3}$/.test(value)) return value;
  out.push({ path, message: expected("a rule such as 'c 226:* rmw'", value) });
  return undefined;
}

function checkRuntime(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(value)) return value;
  out.push({ path, message: expected("a runtime name such as nvidia", value) });
  return undefined;
}

/**
 * Labels as a mapping or a list of `KEY=VALUE` (a label without a value is empty, as compose
 * has it), checked as the fossora form's container labels.
 */
function readLabels(
  value: unknown,
  path: string,
  out: Problems,
): Record<string, string> | undefined {
  if (!Array.isArray(value)) {
    return checkContainerLabels(isMapping(value) ? nullsEmpty(value) : value, path, out);
  }
  const map: Record<string, string> = {};
  const before = out.length;
  value.forEach((item, i) => {
    if (typeof item !== "string") {
      out.push({ path: indexPath(path, i), message: expected("a string KEY=VALUE", item) });
      return;
    }
    const eq = item.indexOf("=");
    setOwn(map, eq < 0 ? item : item.slice(0, eq), eq < 0 ? "" : item.slice(eq + 1));
  });
  return out.length > before ? undefined : checkContainerLabels(map, path, out);
}

/** `traefik.enable:` with nothing after it is an empty label in compose. */
function nullsEmpty(map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries(map)) {
    Object.defineProperty(out, k, { value: v ?? "", enumerable: true, writable: true });
  }
  return out;
}

/**
 * A number of CPUs as compose writes it, `0.5` or `"0.5"`; NaN for anything else (`true`,
 * `[2]` and `"0x10"` are numbers to `Number()`, not to Docker).
 */
export function cpuCount(value: unknown): number {
  if (typeof value === "number") return value;
  return typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
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

/** Compose's older `mem_limit`, `cpus`, `pids_limit` keys: the same limits as deploy's. */
function readLegacyLimits(
  def: Record<string, unknown>,
  path: string,
  o: ContainerOptions,
  out: { problems: Problems; warnings: Problems },
): void {
  const limits: NonNullable<ContainerOptions["limits"]> = {};
  if (def.mem_limit !== undefined) {
    const memory = parseBytes(def.mem_limit);
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

/** A path the docs wrote for the reader to replace. */
const PLACEHOLDER = /^\/path\/to\/|^path to |[<>]/;

/**
 * Reads `devices`: `"/dev/dri"`, `"/dev/ttyUSB0:/dev/ttyACM0"`, `"/dev/sda:/dev/xvda:rwm"`, or
 * the long form `{ source, target, permissions }`, checked as the fossora form's devices.
 */
export function composeDevices(
  value: unknown,
  path: string,
  out: Problems,
  warnings: Problems,
): DeviceSpec[] | undefined {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected('a list of devices such as ["/dev/dri:/dev/dri"]', value) });
    return undefined;
  }
  if (tooManyHostItems(value, path, out)) return undefined;
  const before = out.length;
  const devices = value.flatMap((item, i) => {
    const at = indexPath(path, i);
    const long = isMapping(item) && !("host" in item);
    if (typeof item !== "string" && !isMapping(item)) {
      out.push({ path: at, message: expected('a device such as "/dev/dri:/dev/dri"', item) });
      return [];
    }
    if (long) unknownKeys(item, ["source", "target", "permissions"], at, out);
    const fossora = typeof item === "string"
      ? parseDevice(item)
      : long
      ? { host: item.source, container: item.target, permissions: item.permissions }
      : item;
    const clean = Object.fromEntries(Object.entries(fossora).filter(([, v]) => v !== undefined));
    if (typeof clean.host === "string" && PLACEHOLDER.test(clean.host)) {
      warnings.push({
        path: at,
        message: `'${clean.host}' is a placeholder from the docs, so no device is given: add ` +
          "the one your hardware has, such as /dev/ttyUSB0 (the service then runs where it is)",
      });
      return [];
    }
    const problems: Problems = [];
    const device = checkDevice(clean, at, problems);
    // Say each problem where the compose file has it: the string itself, or source/target.
    const rename: Record<string, string> = typeof item === "string"
      ? { host: "", container: "", permissions: "" }
      : long
      ? { host: ".source", container: ".target", permissions: ".permissions" }
      : {};
    for (const problem of problems) {
      const key = problem.path.slice(at.length + 1);
      out.push(key in rename ? { ...problem, path: at + rename[key] } : problem);
    }
    return device ?? [];
  });
  return out.length > before ? undefined : devices;
}
