/**
 * etcd's own output, turned into our log events: its zap JSON lines keep their level and
 * message; its other lines (grpc chatter, a Go panic) get a level from what they say.
 * @module
 */
import type { Fields, Level } from "../util/log.ts";

/** One of etcd's lines as a log event. */
export interface EtcdLogEvent {
  level: Level;
  msg: string;
  fields: Fields;
}

const LEVELS: Record<string, Level> = {
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  dpanic: "error",
  panic: "error",
  fatal: "error",
};

/** Parses one line of etcd's stdout or stderr; undefined for a blank line. */
export function parseEtcdLine(line: string): EtcdLogEvent | undefined {
  const text = line.trim().slice(0, 2000);
  if (!text) return undefined;
  if (text.startsWith("{")) {
    try {
      const { level, msg, ts: _ts, caller: _caller, ...rest } = JSON.parse(text);
      if (typeof msg === "string") {
        return { level: LEVELS[String(level)] ?? "info", msg, fields: rest };
      }
    } catch { /* not JSON after all: fall through */ }
  }
  if (/panic|fatal/i.test(text)) return { level: "error", msg: text, fields: {} };
  // grpc's reconnect chatter while etcd stops or starts is noise, not news.
  if (text.startsWith("WARNING:")) return { level: "debug", msg: text, fields: {} };
  return { level: "info", msg: text, fields: {} };
}
