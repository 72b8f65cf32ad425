/**
 * Where the client's admin token comes from: `--api-token`, then `FOSSORA_API_TOKEN`, then the
 * agent's `DATA_DIR/admin-token`. The file is read only when a request needs it.
 * @module
 */
import { CliError } from "./errors.ts";

/** Default `--data-dir`. */
export const DEFAULT_DATA_DIR = "/var/lib/fossora";

/** A token and, for error messages, where it came from. */
export interface TokenSource {
  /** `--api-token`, `FOSSORA_API_TOKEN` or the file's path. */
  source: string;
  read(): Promise<string>;
}

/** Chooses the token source from the flags and the environment. */
export function tokenSource(
  flags: { apiToken?: string; dataDir?: string },
  env: Record<string, string | undefined>,
  readFile: (path: string) => Promise<Uint8Array>,
): TokenSource {
  if (flags.apiToken !== undefined) return fixed("--api-token", flags.apiToken);
  const fromEnv = env.FOSSORA_API_TOKEN;
  if (fromEnv) return fixed("FOSSORA_API_TOKEN", fromEnv);
  const dir = flags.dataDir ?? (env.FOSSORA_DATA_DIR || DEFAULT_DATA_DIR);
  const path = `${dir.replace(/\/+$/, "")}/admin-token`;
  return { source: path, read: () => readTokenFile(path, readFile) };
}

function fixed(source: string, token: string): TokenSource {
  return {
    source,
    read: () => {
      if (token.trim() === "") {
        return Promise.reject(new CliError(`${source} is empty; pass the admin token`));
      }
      return Promise.resolve(token.trim());
    },
  };
}

async function readTokenFile(
  path: string,
  readFile: (path: string) => Promise<Uint8Array>,
): Promise<string> {
  const other = "or pass --api-token (env FOSSORA_API_TOKEN)";
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(
        `no admin token: ${path} does not exist; run this on a node where \`fossora agent\` has ` +
          `started (or give its --data-dir), ${other}`,
      );
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new CliError(
        `cannot read ${path} (permission denied); run as root (sudo fossora …) ${other}`,
      );
    }
    throw new CliError(`cannot read ${path} (${e instanceof Error ? e.message : e}); ${other}`);
  }
  const token = new TextDecoder().decode(bytes).trim();
  if (token === "") {
    throw new CliError(`${path} is empty; restart the agent to write it again, ${other}`);
  }
  return token;
}
