/**
 * The `container:` mapping of a fossora service: Docker's settings of its containers, each
 * doing what `docker run`'s option of the same meaning does (ContainerOptions in
 * src/state/types.ts). Keys are camelCase as in ContainerOptions; sizes are bytes or `64m`,
 * durations Go's (`1m30s`).
 * @module
 */
import type { ContainerOptions } from "../state/types.ts";
import { checkBytes } from "./bytes.ts";
import { checkCapability } from "./capability.ts";
import { checkExtraHosts } from "./extra_host.ts";
import { checkBoolean, checkStringish, setOwn } from "./fields.ts";
import { parseDuration } from "./healthcheck.ts";
import { checkAbsolutePath } from "./host_path.ts";
import { checkPlatform } from "./platform.ts";
import {
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";
import { checkSecurityOpt } from "./security_opt.ts";
import { checkSignal } from "./signal.ts";
import { checkSysctls } from "./sysctl.ts";
import { checkTmpfs } from "./tmpfs.ts";
import { checkUlimits } from "./ulimit.ts";
import { checkUser } from "./user.ts";

/** The keys `container:` may have. */
export const CONTAINER_KEYS: readonly string[] = [
  "user",
  "workingDir",
  "entrypoint",
  "capAdd",
  "capDrop",
  "privileged",
  "sysctls",
  "shmSize",
  "tmpfs",
  "readOnly",
  "securityOpt",
  "init",
  "labels",
  "extraHosts",
  "stopSignal",
  "stopGracePeriod",
  "ulimits",
  "platform",
  "anonymousVolumes",
  "limits",
];

/** Longest stop grace period: a stop holds its replica's other steps until it ends. */
export const MAX_GRACE_MS = 3_600_000;
/** Docker refuses a memory limit under 6 MiB. */
export const MIN_MEMORY_LIMIT = 6 * 1024 * 1024;
const MAX_CPUS = 1024;
/** fossora's own labels on every container: a service cannot set them. */
const RESERVED_LABEL_PREFIX = "fossora.";

/** Checks a stop grace period, a Go duration from 0s to 1h; returns it when valid. */
export function checkGracePeriod(value: unknown, path: string, out: Problems): string | undefined {
  const ms = typeof value === "string" ? parseDuration(value) : undefined;
  if (ms === undefined) {
    out.push({ path, message: expected("a duration such as 10s or 1m30s", value) });
    return undefined;
  }
  if (ms > MAX_GRACE_MS) {
    out.push({ path, message: `${value} is longer than 1h; give a shorter grace period` });
    return undefined;
  }
  return value as string;
}

/** Checks a list whose items `check` reads; returns it when every item is valid. */
function checkList<T>(
  value: unknown,
  path: string,
  out: Problems,
  example: string,
  check: (item: unknown, path: string, out: Problems) => T | undefined,
): T[] | undefined {
  if (!Array.isArray(value)) {
    out.push({ path, message: expected(`a list such as ${example}`, value) });
    return undefined;
  }
  const before = out.length;
  const items = value.map((item, i) => check(item, indexPath(path, i), out));
  return out.length === before ? items as T[] : undefined;
}

function checkEntrypoint(value: unknown, path: string, out: Problems): string[] | undefined {
  return checkList(value, path, out, '["/bin/sh", "-c"] (or [] for none)', (item, at, o) => {
    if (typeof item === "string" && !item.includes("\0")) return item;
    o.push({ path: at, message: expected("a string without NUL", item) });
    return undefined;
  });
}

/** Checks container labels (a mapping); fossora's own (`fossora.*`) are refused. */
export function checkContainerLabels(
  value: unknown,
  path: string,
  out: Problems,
): Record<string, string> | undefined {
  if (!isMapping(value)) {
    out.push({ path, message: expected('a mapping such as { traefik.enable: "true" }', value) });
    return undefined;
  }
  const before = out.length;
  const labels: Record<string, string> = {};
  for (const [key, raw] of entries(value)) {
    const at = keyPath(path, key);
    if (key === "" || /[\0\s=]/.test(key)) {
      out.push({ path: at, message: "a label name is non-empty, without spaces, NUL or '='" });
    } else if (key.startsWith(RESERVED_LABEL_PREFIX)) {
      out.push({
        path: at,
        message: `labels starting with '${RESERVED_LABEL_PREFIX}' are fossora's own; rename it`,
      });
    } else {
      const text = checkStringish(raw, at, out);
      if (text !== undefined) setOwn(labels, key, text);
    }
  }
  return out.length === before ? labels : undefined;
}

/** Checks `limits: { cpus, memory, pids }`, each positive; returns them when valid. */
export function checkLimits(
  value: unknown,
  path: string,
  out: Problems,
): ContainerOptions["limits"] | undefined {
  if (!isMapping(value)) {
    out.push({ path, message: expected("a mapping such as { cpus: 1.5, memory: 512m }", value) });
    return undefined;
  }
  unknownKeys(value, ["cpus", "memory", "pids"], path, out);
  const before = out.length;
  const limits: NonNullable<ContainerOptions["limits"]> = {};
  if (value.cpus !== undefined) {
    const cpus = typeof value.cpus === "string" ? Number(value.cpus) : value.cpus;
    if (typeof cpus !== "number" || !(cpus >= 0.01) || cpus > MAX_CPUS) {
      out.push({
        path: keyPath(path, "cpus"),
        message: expected(`a number of CPUs from 0.01 to ${MAX_CPUS}, e.g. 1.5`, value.cpus),
      });
    } else limits.cpus = cpus;
  }
  if (value.memory !== undefined) {
    const at = keyPath(path, "memory");
    const memory = checkBytes(value.memory, at, out, "a memory limit", MIN_MEMORY_LIMIT);
    if (memory !== undefined) limits.memory = memory;
  }
  if (value.pids !== undefined) {
    const pids = value.pids;
    if (typeof pids !== "number" || !Number.isSafeInteger(pids) || pids < 1) {
      out.push({
        path: keyPath(path, "pids"),
        message: expected("a whole number of processes above 0, e.g. 200", pids),
      });
    } else limits.pids = pids;
  }
  return out.length === before ? limits : undefined;
}

type Checker = (value: unknown, path: string, out: Problems) => unknown;

/**
 * Checks a service's `container:` mapping. `hostNetwork` says the container shares the node's
 * network namespace, where it may not change `net.*` sysctls. Returns the options given (only
 * those; false booleans other than `init` are dropped as Docker's default) when all are valid.
 */
export function checkContainerOptions(
  value: unknown,
  path: string,
  out: Problems,
  hostNetwork = false,
): ContainerOptions | undefined {
  if (!isMapping(value)) {
    out.push({ path, message: expected('a mapping such as { user: "1000:1000" }', value) });
    return undefined;
  }
  unknownKeys(value, CONTAINER_KEYS, path, out);
  const capability: Checker = (v, p, o) =>
    checkList(v, p, o, "[NET_ADMIN, SYS_TIME]", checkCapability);
  const checkers: Record<string, Checker> = {
    user: checkUser,
    workingDir: (v, p, o) => checkAbsolutePath(v, p, o, "container"),
    entrypoint: checkEntrypoint,
    capAdd: capability,
    capDrop: capability,
    privileged: checkBoolean,
    sysctls: (v, p, o) => checkSysctls(v, p, o, hostNetwork),
    shmSize: (v, p, o) => checkBytes(v, p, o, "a /dev/shm size"),
    tmpfs: (v, p, o) => {
      const before = o.length;
      const list = checkTmpfs(v, p, o);
      return o.length === before ? list : undefined;
    },
    readOnly: checkBoolean,
    securityOpt: (v, p, o) => checkList(v, p, o, "[no-new-privileges:true]", checkSecurityOpt),
    init: checkBoolean,
    labels: checkContainerLabels,
    extraHosts: checkExtraHosts,
    stopSignal: checkSignal,
    stopGracePeriod: checkGracePeriod,
    ulimits: checkUlimits,
    platform: checkPlatform,
    anonymousVolumes: (v, p, o) =>
      checkList(
        v,
        p,
        o,
        "[/cache]",
        (item, at, o2) => checkAbsolutePath(item, at, o2, "container", true),
      ),
    limits: checkLimits,
  };
  const before = out.length;
  const options: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(checkers)) {
    if (value[key] === undefined) continue;
    const checked = check(value[key], keyPath(path, key), out);
    // Docker's defaults are not stored, so a file that spells them out makes the same spec.
    if (checked === undefined || (checked === false && key !== "init")) continue;
    options[key] = checked;
  }
  return out.length === before ? options as ContainerOptions : undefined;
}
