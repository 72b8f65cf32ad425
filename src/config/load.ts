/**
 * Builds the agent's configuration from flags, environment, config file and defaults, in that
 * order of precedence, validating every value so that a bad one stops the agent with one line.
 * @module
 */
import { ConfigError, InvalidValue } from "./error.ts";
import { fromArgv, fromEnv, fromToml, type Raw, type RawSettings } from "./sources.ts";
import { TAILSCALE_API_URL } from "../discovery/split_dns.ts";
import {
  nameFromHostname,
  parseBindAddr,
  parseDiscovery,
  parseDnsLabel,
  parseDnsName,
  parseDnsUpstream,
  parseDockerHost,
  parseHttpUrl,
  parseIPv4,
  parseJoin,
  parseLabels,
  parseMaxVoters,
  parseNonEmpty,
  parsePort,
  parseTailscaleTag,
  parseToken,
  parseTrustedProxies,
  parseTuneInterval,
} from "./values.ts";

/** The agent's settings, after precedence and validation. */
export interface AgentConfig {
  dataDir: string;
  name: string;
  advertiseAddr: string;
  /**
   * The LAN address mDNS announces and browses on, when the advertise address is on a link
   * without multicast (the Tailscale address taken by default); else mDNS uses the advertise
   * address.
   */
  mdnsAddr?: string;
  bindAddr: string;
  /** 0 means "any free port" (tests); also for httpPort and dnsPort. */
  apiPort: number;
  /** The API over TLS: where join requests (and their token) go. */
  apiTlsPort: number;
  /**
   * The stack mesh's tunnel: other nodes connect here (mutual TLS, node certificates) to reach
   * this node's containers for the services of a stack.
   */
  meshPort: number;
  etcdClientPort: number;
  etcdPeerPort: number;
  httpPort: number;
  httpsPort: number;
  /** Addresses and CIDRs whose forwarding fields the proxy keeps. */
  trustedProxies: string[];
  dnsPort: number;
  /** `--dns-upstream`, as `IP:PORT` labels; undefined follows the node's /etc/resolv.conf. */
  dnsUpstream?: string[];
  domain: string;
  /** `host:port` of agents to join through. */
  join: string[];
  /** Subset of `tailscale`, `mdns`; empty when `none`. */
  discovery: string[];
  /** The join token, read from tokenFile when that is set. */
  token?: string;
  tokenFile?: string;
  dockerHost: string;
  etcdBin: string;
  site: string;
  labels: Record<string, string>;
  tailscaleSocket: string;
  /** A tailnet tag whose machines join without a token, besides the tailnet owner's. */
  tailscaleTag?: string;
  /** A Tailscale API access token (read from tailscaleApiKeyFile): keeps tailnet split DNS. */
  tailscaleApiKey?: string;
  tailscaleApiKeyFile?: string;
  /** Where the Tailscale API answers. */
  tailscaleApiUrl: string;
  /** Most etcd voters: 1, 3, 5 or 7. */
  maxVoters: number;
  /** Seconds between a voter's measurements of its etcd peers for timing; 0 turns tuning off. */
  etcdTuneInterval: number;
  /** The config file path used (it may not exist when it is the default). */
  configFile: string;
  debug: boolean;
}

/** Values the loader cannot know by itself; a function so detection runs only when needed. */
export interface ConfigDefaults {
  hostname: string;
  advertiseAddr: () => string;
}

/** Reads a file's text; returns undefined when the file does not exist, throws otherwise. */
export type ReadFile = (path: string) => string | undefined;

/** Where the config file is looked for when neither --config nor FOSSORA_CONFIG is set. */
export const DEFAULT_CONFIG_FILE = "/etc/fossora/fossora.toml";

type Pick = (name: string) => Raw | undefined;

/** `{ key: value }` when the setting is given, `{}` when not (a setting without a default). */
function optional<K extends string, T>(
  key: K,
  flag: string,
  raw: Raw | undefined,
  parse: (v: never) => T,
): { [k in K]?: T } {
  if (!raw) return {};
  return { [key]: check(flag, raw, parse) } as { [k in K]?: T };
}

/** Runs a parser, turning its InvalidValue into a ConfigError naming the key and origin. */
function check<T>(name: string, raw: Raw, parse: (v: never) => T): T {
  try {
    return parse(raw.value as never);
  } catch (e) {
    if (!(e instanceof InvalidValue)) throw e;
    throw new ConfigError(`config: ${name} (from ${raw.origin}): ${e.message}`);
  }
}

function setting<T>(pick: Pick, name: string, parse: (v: never) => T, fallback: () => T): T {
  const raw = pick(name);
  return raw === undefined ? fallback() : check(name, raw, parse);
}

/** Reads a file through `readFile`, reporting a failure against `name`. */
function readVia(readFile: ReadFile, name: string, raw: Raw, path: string): string | undefined {
  try {
    return readFile(path);
  } catch (e) {
    throw new ConfigError(
      `config: ${name} (from ${raw.origin}): cannot read ${JSON.stringify(path)}: ${
        (e as Error).message
      }`,
    );
  }
}

function loadFile(cli: RawSettings, env: RawSettings, readFile: ReadFile) {
  const given = cli.get("config") ?? env.get("config");
  const raw = given ?? { value: DEFAULT_CONFIG_FILE, origin: "default" };
  const path = check("config", raw, parseNonEmpty);
  const text = readVia(readFile, "config", raw, path);
  if (text === undefined && given) {
    throw new ConfigError(
      `config: config (from ${raw.origin}): file ${
        JSON.stringify(path)
      } does not exist; create it or point to an existing file`,
    );
  }
  return { path, settings: text === undefined ? new Map() as RawSettings : fromToml(text, path) };
}

function loadToken(pick: Pick, readFile: ReadFile) {
  const tokenRaw = pick("token");
  const fileRaw = pick("token-file");
  if (tokenRaw && fileRaw) {
    throw new ConfigError(
      `config: token (from ${tokenRaw.origin}) and token-file (from ${fileRaw.origin}) are exclusive; set only one`,
    );
  }
  if (tokenRaw) return { token: check("token", tokenRaw, parseToken) };
  if (!fileRaw) return {};
  const tokenFile = check("token-file", fileRaw, parseNonEmpty);
  const text = readVia(readFile, "token-file", fileRaw, tokenFile);
  const where = `config: token-file (from ${fileRaw.origin}): ${JSON.stringify(tokenFile)}`;
  if (text === undefined) {
    throw new ConfigError(`${where} does not exist; create it or fix the path`);
  }
  const token = text.trim();
  if (token === "") throw new ConfigError(`${where} is empty; put the cluster join token in it`);
  if (!/^\S+$/.test(token)) {
    throw new ConfigError(`${where} holds more than one word; it must hold only the token`);
  }
  return { token, tokenFile };
}

/** The Tailscale API access token from its file: one word, or a clear error. */
function loadTailscaleApiKey(pick: Pick, readFile: ReadFile) {
  const raw = pick("tailscale-api-key-file");
  if (!raw) return {};
  const file = check("tailscale-api-key-file", raw, parseNonEmpty);
  const text = readVia(readFile, "tailscale-api-key-file", raw, file);
  const where = `config: tailscale-api-key-file (from ${raw.origin}): ${JSON.stringify(file)}`;
  if (text === undefined) {
    throw new ConfigError(`${where} does not exist; create it (mode 600) or fix the path`);
  }
  const key = text.trim();
  if (!/^\S+$/.test(key)) {
    throw new ConfigError(
      `${where} must hold only a Tailscale API access token (tskey-api-…); it is ${
        key ? "more than one word" : "empty"
      }`,
    );
  }
  return { tailscaleApiKey: key, tailscaleApiKeyFile: file };
}

/**
 * The agent's configuration. Flag beats environment (`FOSSORA_*`) beats config file beats
 * default. Throws ConfigError (one line naming the key and reason) on any unknown or bad value.
 */
export function loadConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: ReadFile,
  defaults: ConfigDefaults,
): AgentConfig {
  const cli = fromArgv(argv);
  const fromEnvironment = fromEnv(env);
  const file = loadFile(cli, fromEnvironment, readFile);
  const pick: Pick = (name) =>
    cli.get(name) ?? fromEnvironment.get(name) ?? file.settings.get(name);
  const port = (zero: boolean) => (v: string | number) => parsePort(v, zero);
  const num = (n: number) => () => n;
  return {
    dataDir: setting(pick, "data-dir", parseNonEmpty, () => "/var/lib/fossora"),
    name: setting(pick, "name", parseDnsLabel, () => nameFromHostname(defaults.hostname)),
    advertiseAddr: setting(pick, "advertise-addr", parseIPv4, defaults.advertiseAddr),
    bindAddr: setting(pick, "bind-addr", parseBindAddr, () => "0.0.0.0"),
    apiPort: setting(pick, "api-port", port(true), num(7440)),
    apiTlsPort: setting(pick, "api-tls-port", port(true), num(7443)),
    meshPort: setting(pick, "mesh-port", port(true), num(7441)),
    etcdClientPort: setting(pick, "etcd-client-port", port(false), num(2379)),
    etcdPeerPort: setting(pick, "etcd-peer-port", port(false), num(2380)),
    httpPort: setting(pick, "http-port", port(true), num(80)),
    httpsPort: setting(pick, "https-port", port(true), num(443)),
    trustedProxies: setting(pick, "trusted-proxies", parseTrustedProxies, () => []),
    dnsPort: setting(pick, "dns-port", port(true), num(53)),
    ...optional("dnsUpstream", "dns-upstream", pick("dns-upstream"), parseDnsUpstream),
    domain: setting(pick, "domain", parseDnsName, () => "fossora.home.arpa"),
    join: setting(pick, "join", parseJoin, () => []),
    discovery: setting(pick, "discovery", parseDiscovery, () => ["tailscale", "mdns"]),
    ...loadToken(pick, readFile),
    dockerHost: setting(pick, "docker-host", parseDockerHost, () => "unix:///var/run/docker.sock"),
    etcdBin: setting(pick, "etcd-bin", parseNonEmpty, () => "etcd"),
    site: setting(pick, "site", parseDnsLabel, () => "default"),
    labels: setting(pick, "label", parseLabels, () => ({})),
    tailscaleSocket: setting(
      pick,
      "tailscale-socket",
      parseNonEmpty,
      () => "/var/run/tailscale/tailscaled.sock",
    ),
    ...optional("tailscaleTag", "tailscale-tag", pick("tailscale-tag"), parseTailscaleTag),
    ...loadTailscaleApiKey(pick, readFile),
    tailscaleApiUrl: setting(pick, "tailscale-api-url", parseHttpUrl, () => TAILSCALE_API_URL),
    maxVoters: setting(pick, "max-voters", parseMaxVoters, num(5)),
    etcdTuneInterval: setting(pick, "etcd-tune-interval", parseTuneInterval, num(60)),
    configFile: file.path,
    debug: setting(pick, "debug", (b: boolean) => b, () => false),
  };
}
