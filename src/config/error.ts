/** The one error type configuration loading throws. @module */

/**
 * A configuration problem, reported as ONE line that names the key, where the value came from and
 * what is wrong, e.g. `config: http-port (from FOSSORA_HTTP_PORT): expected a port number ...`.
 * The agent prints the message and exits; no stack trace is needed to act on it.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(message: string) {
    super(message.replace(/\r?\n/g, " "));
  }
}

/**
 * Thrown by value parsers with just the reason; the loader adds the key and origin, which the
 * parsers do not know.
 */
export class InvalidValue extends Error {}

/** Formats `got` the way every message quotes the offending value. */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `array ${JSON.stringify(value)}`;
  if (value !== null && typeof value === "object") return "a table";
  return `${typeof value} ${String(value)}`;
}
