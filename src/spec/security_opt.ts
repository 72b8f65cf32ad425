/**
 * Security options (`docker run --security-opt`) that mean the same on every node:
 * `no-new-privileges`, `seccomp=unconfined`, `apparmor=PROFILE`, `label=…` (SELinux),
 * `systempaths=unconfined`. A seccomp profile file is refused: the Docker CLI reads the file and
 * sends its content, and a path in a service file would name a file on each node instead.
 * @module
 */
import { expected, type Problems } from "./problems.ts";

const KEYS = ["no-new-privileges", "seccomp", "apparmor", "label", "systempaths"];

/**
 * The option as Docker's engine takes it (`KEY=VALUE`, `no-new-privileges` alone), from `=` or
 * compose's older `:` spelling; or the reason it cannot be used.
 */
export function parseSecurityOpt(text: string): { value: string } | { problem: string } {
  const t = text.trim();
  if (t === "no-new-privileges") return { value: t };
  const sep = /^([a-z-]+)[=:]/.exec(t);
  const key = sep?.[1];
  const val = sep ? t.slice(sep[0].length) : "";
  if (!key || !KEYS.includes(key) || /[\0\r\n]/.test(val) || val === "") {
    return {
      problem: `'${text}' is not a security option fossora passes on; write one of ` +
        "no-new-privileges:true, seccomp=unconfined, apparmor=PROFILE, label=TYPE:VALUE, " +
        "systempaths=unconfined",
    };
  }
  if (key === "no-new-privileges" && val !== "true" && val !== "false") {
    return { problem: `no-new-privileges takes true or false, not '${val}'` };
  }
  if ((key === "seccomp" || key === "systempaths") && val !== "unconfined") {
    return {
      problem: `${key}=${val}: only ${key}=unconfined can be given here (a profile file would ` +
        "have to be on every node; use Docker's default profile by leaving it out)",
    };
  }
  return { value: `${key}=${val}` };
}

/** Checks one security option; returns it as the engine takes it when valid. */
export function checkSecurityOpt(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value !== "string") {
    out.push({ path, message: expected("an option such as no-new-privileges:true", value) });
    return undefined;
  }
  const r = parseSecurityOpt(value);
  if ("problem" in r) {
    out.push({ path, message: r.problem });
    return undefined;
  }
  return r.value;
}
