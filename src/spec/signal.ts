/**
 * Signal names as Docker's `--stop-signal` reads them: `SIGTERM`, `TERM`, `sigterm`, a number
 * (`15`) or a real-time one (`SIGRTMIN+3`).
 * @module
 */
import { expected, type Problems } from "./problems.ts";

/** The Linux signals by name, without `SIG`. */
export const SIGNALS: readonly string[] = [
  "HUP",
  "INT",
  "QUIT",
  "ILL",
  "TRAP",
  "ABRT",
  "IOT",
  "BUS",
  "FPE",
  "KILL",
  "USR1",
  "SEGV",
  "USR2",
  "PIPE",
  "ALRM",
  "TERM",
  "STKFLT",
  "CHLD",
  "CONT",
  "STOP",
  "TSTP",
  "TTIN",
  "TTOU",
  "URG",
  "XCPU",
  "XFSZ",
  "VTALRM",
  "PROF",
  "WINCH",
  "IO",
  "POLL",
  "PWR",
  "SYS",
];

/** Highest signal number on Linux (SIGRTMAX). */
const MAX_SIGNAL = 64;
/** Real-time signals: SIGRTMIN..SIGRTMIN+15 and SIGRTMAX-14..SIGRTMAX, as Docker names them. */
const REALTIME = /^RT(MIN|MAX)(?:([+-])(\d{1,2}))?$/;

/**
 * The signal as Docker is sent it: `SIGTERM` for a name in any spelling, the number as a string
 * for a number; undefined when it is no signal.
 */
export function parseSignal(value: unknown): string | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= 1 && value <= MAX_SIGNAL ? String(value) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (/^\d{1,2}$/.test(text)) return parseSignal(Number(text));
  const name = text.toUpperCase().replace(/^SIG/, "");
  if (SIGNALS.includes(name)) return `SIG${name}`;
  const rt = REALTIME.exec(name);
  if (!rt) return undefined;
  const n = Number(rt[3] ?? 0);
  const ok = rt[1] === "MIN" ? rt[2] !== "-" && n <= 15 : rt[2] !== "+" && n <= 14;
  return ok ? `SIG${name}` : undefined;
}

/** Checks a stop signal; returns it as Docker is sent it when valid. */
export function checkSignal(value: unknown, path: string, out: Problems): string | undefined {
  const signal = parseSignal(value);
  if (signal === undefined) {
    out.push({
      path,
      message: expected(
        "a signal such as SIGTERM, SIGINT, SIGQUIT (the SIG is optional) or its number 1-64",
        value,
      ),
    });
  }
  return signal;
}
