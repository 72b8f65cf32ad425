/** The real-machine inputs loadConfig takes, for the agent's composition root. @module */
import type { ConfigDefaults } from "./load.ts";
import { detectAdvertiseAddr } from "./advertise.ts";

/** Reads a text file; undefined when it does not exist, other errors (permission) are thrown. */
export function readFileIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** This machine's host name and advertise-address detection. */
export function systemDefaults(): ConfigDefaults {
  return { hostname: Deno.hostname(), advertiseAddr: detectAdvertiseAddr };
}
