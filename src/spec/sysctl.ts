/**
 * Kernel parameters a container may set (`docker run --sysctl`): only those of the container's
 * own namespaces, which Docker allows (IPC: `kernel.msg*`, `kernel.sem`, `kernel.shm*`,
 * `fs.mqueue.*`; network: `net.*`, not in the node's own network namespace).
 * @module
 */
import { setOwn } from "./fields.ts";
import {
  describe,
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
} from "./problems.ts";

/** The IPC namespace's parameters Docker lets a container set. */
const IPC_SYSCTLS: readonly string[] = [
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
];

const NAME = /^[a-z0-9_]+(?:\.[A-Za-z0-9_-]+)+$/;

/**
 * Why a container cannot set sysctl `name`, or undefined when it can; `hostNetwork` is true for
 * a container in the node's network namespace, whose `net.*` it must not change.
 */
export function sysctlProblem(name: string, hostNetwork = false): string | undefined {
  if (!NAME.test(name)) {
    return `'${name}' is not a sysctl name; write it dotted, e.g. net.core.somaxconn`;
  }
  if (name.startsWith("net.")) {
    return hostNetwork
      ? `'${name}' would change the node's own network settings (hostNetwork: true); ` +
        "set it on the node, or drop hostNetwork"
      : undefined;
  }
  if (IPC_SYSCTLS.includes(name) || name.startsWith("fs.mqueue.")) return undefined;
  return `'${name}' is not in the container's own namespaces, so Docker refuses it; a container ` +
    "may set net.*, fs.mqueue.*, kernel.sem, kernel.msg* and kernel.shm* (others are the node's)";
}

/** A sysctl value: a string, or a number or boolean as YAML read it; one line. */
function sysctlValue(value: unknown, path: string, out: Problems): string | undefined {
  const text = typeof value === "string"
    ? value
    : typeof value === "number" && Number.isFinite(value)
    ? String(value)
    : undefined;
  if (text === undefined) {
    out.push({ path, message: expected('a value such as 1024 or "1"', value) });
    return undefined;
  }
  if (/[\0\r\n]/.test(text)) {
    out.push({ path, message: "must be one line without NUL; remove the line break" });
    return undefined;
  }
  return text;
}

/**
 * Checks sysctls given as a mapping (`{ net.core.somaxconn: 1024 }`) or a list of `NAME=VALUE`;
 * returns them as a mapping when every one is valid.
 */
export function checkSysctls(
  value: unknown,
  path: string,
  out: Problems,
  hostNetwork = false,
): Record<string, string> | undefined {
  const before = out.length;
  const pairs: [string, unknown, string][] = [];
  if (isMapping(value)) {
    for (const [k, v] of entries(value)) pairs.push([k, v, keyPath(path, k)]);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = indexPath(path, i);
      const eq = typeof item === "string" ? item.indexOf("=") : -1;
      if (eq <= 0) {
        out.push({ path: at, message: `expected NAME=VALUE, found ${describe(item)}` });
      } else pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim(), at]);
    });
  } else {
    out.push({
      path,
      message: expected("a mapping such as { net.core.somaxconn: 1024 }", value),
    });
    return undefined;
  }
  const sysctls: Record<string, string> = {};
  for (const [name, raw, at] of pairs) {
    const problem = sysctlProblem(name, hostNetwork);
    if (problem !== undefined) {
      out.push({ path: at, message: problem });
      continue;
    }
    const text = sysctlValue(raw, at, out);
    if (text !== undefined) setOwn(sysctls, name, text);
  }
  return out.length === before ? sysctls : undefined;
}
