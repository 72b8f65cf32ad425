/**
 * One line per event, with a level, readable in journald. Under systemd (JOURNAL_STREAM set) each
 * line starts with the syslog priority `<N>` so journald records the level; otherwise it starts
 * with the time. Fields follow the message as `key=value`, quoted when they contain spaces.
 * @module
 */

/** Severity of a log line. */
export type Level = "debug" | "info" | "warn" | "error";

const PRIORITY: Record<Level, number> = { debug: 7, info: 6, warn: 4, error: 3 };
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Key/value context printed after the message. */
export type Fields = Record<string, unknown>;

/** A logger bound to one component, e.g. `runtime` or `proxy`. */
export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger for a sub-component: `runtime.docker`. */
  child(component: string): Logger;
}

/** Where lines go; tests pass an array's push. */
export type Sink = (line: string) => void;

interface LoggerOptions {
  level?: Level;
  sink?: Sink;
  journald?: boolean;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) v = v.message;
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  return /[\s"=]/.test(s) || s === "" ? JSON.stringify(s) : s;
}

/** Formats one event as a single line (newlines in values are escaped). */
export function formatLine(
  level: Level,
  component: string,
  msg: string,
  fields: Fields = {},
  journald = false,
  now = new Date(),
): string {
  const kv = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(" ");
  const head = journald ? `<${PRIORITY[level]}>` : `${now.toISOString()} `;
  const line = `${head}${level.toUpperCase()} ${component}: ${msg}${kv ? " " + kv : ""}`;
  return line.replace(/\r?\n/g, "\\n");
}

/** FOSSORA_LOG_LEVEL when it names a level; anything else means info, never silence. */
function envLevel(): Level {
  const v = Deno.env.get("FOSSORA_LOG_LEVEL")?.toLowerCase();
  return v && v in ORDER ? v as Level : "info";
}

/** Creates a logger; by default info and above to stderr. */
export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? envLevel();
  const journald = options.journald ?? Boolean(Deno.env.get("JOURNAL_STREAM"));
  const encoder = new TextEncoder();
  const sink = options.sink ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const emit = (l: Level) => (msg: string, fields?: Fields) => {
    if (ORDER[l] >= ORDER[level]) sink(formatLine(l, component, msg, fields, journald));
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (sub) => createLogger(`${component}.${sub}`, { level, sink, journald }),
  };
}

/** A logger that prints nothing, for tests that do not care. */
export const silentLogger: Logger = createLogger("silent", { sink: () => {} });
