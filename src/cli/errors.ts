/**
 * The two ways a command ends badly: a usage error (exit 2, with the command's usage) and a
 * failure (exit 1, one line saying what went wrong and what to do).
 * @module
 */
import type { Command } from "./args.ts";

/** Bad arguments: printed with a short usage; exit code 2. */
export class UsageError extends Error {
  /** The command whose usage to show; undefined for the program's. */
  readonly command?: Command;
  /** Creates a usage error for `command` (or the whole program). */
  constructor(message: string, command?: Command) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure: one line on stderr (plus `details`, each on its own line); exit code 1. */
export class CliError extends Error {
  /** Lines printed under the message, indented (used for the problems of an invalid spec). */
  readonly details: string[];
  /** Creates a failure with its one-line message. */
  constructor(message: string, details: string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.details = details;
  }
}
