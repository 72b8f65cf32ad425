/** The real-machine inputs loadConfig takes, for the agent's composition root. @module */
import { type AgentConfig, type ConfigDefaults, loadConfig, type ReadFile } from "./load.ts";
import { detectAdvertiseAddr, detectTailscaleAddr } from "./advertise.ts";

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

/**
 * {@link loadConfig} with the default advertise address as the agent takes it: when none is
 * configured, this node's Tailscale IPv4 if tailscaled (on the configured `--tailscale-socket`)
 * runs, with mDNS kept on the LAN address (a tailnet link carries no multicast); else the LAN
 * address. tailscaled is never asked when an address is configured.
 * @example
 * ```ts
 * const config = await loadAgentConfig(Deno.args, Deno.env.toObject(), readFileIfExists);
 * ```
 */
export async function loadAgentConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: ReadFile,
  defaults: ConfigDefaults = systemDefaults(),
  tailscaleAddr: (socket: string) => Promise<string | undefined> = detectTailscaleAddr,
): Promise<AgentConfig> {
  let configured = true;
  const config = loadConfig(argv, env, readFile, {
    ...defaults,
    // Called only when no advertise address is configured; the real one is found below.
    advertiseAddr: () => (configured = false, ""),
  });
  if (configured) return config;
  const lan = defaults.advertiseAddr();
  const tailnet = await tailscaleAddr(config.tailscaleSocket);
  return tailnet
    ? { ...config, advertiseAddr: tailnet, mdnsAddr: lan }
    : { ...config, advertiseAddr: lan };
}
