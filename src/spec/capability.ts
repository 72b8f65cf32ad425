/**
 * Linux capability names as `docker run --cap-add/--cap-drop` read them: `NET_ADMIN`,
 * `CAP_NET_ADMIN`, any case, or `ALL`. Stored as `CAP_NET_ADMIN`, as Docker keeps them.
 * @module
 */
import { nearest } from "../util/suggest.ts";
import { expected, type Problems } from "./problems.ts";

/** Every Linux capability, without `CAP_`. */
export const CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
];

/** `CAP_NAME` (or `ALL`) for a capability in any of Docker's spellings; undefined when unknown. */
export function parseCapability(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const name = value.trim().toUpperCase().replace(/^CAP_/, "");
  if (name === "ALL") return "ALL";
  return CAPABILITIES.includes(name) ? `CAP_${name}` : undefined;
}

/** Checks one capability name; returns it as `CAP_NAME` (or `ALL`) when valid. */
export function checkCapability(value: unknown, path: string, out: Problems): string | undefined {
  const cap = parseCapability(value);
  if (cap !== undefined) return cap;
  if (typeof value !== "string") {
    out.push({ path, message: expected("a capability such as NET_ADMIN", value) });
    return undefined;
  }
  const near = nearest(value.toUpperCase().replace(/^CAP_/, ""), CAPABILITIES, { maxDistance: 2 });
  out.push({
    path,
    message: `unknown capability '${value}'${near ? ` (did you mean '${near}'?)` : ""}; ` +
      "write a Linux capability such as NET_ADMIN or SYS_TIME (CAP_ is optional), or ALL",
  });
  return undefined;
}
