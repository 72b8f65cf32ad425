/**
 * The table of `fossora agent` flags: the single list that the argument parser, the environment
 * and config-file readers and `--help` all read, so they cannot drift apart.
 * @module
 */

/**
 * How a flag's raw text is read: `string` and `port` take one value, `bool` takes none on the
 * command line, `list` is comma-separated and repeatable, `labels` is repeatable `key=value`.
 */
export type FlagKind = "string" | "port" | "number" | "bool" | "list" | "labels";

/** One agent flag, as shown by `fossora agent --help`. */
export interface FlagInfo {
  /** Name without dashes; also the config-file key. */
  readonly name: string;
  readonly kind: FlagKind;
  /** Placeholder for the value in help text, e.g. `PATH`. */
  readonly arg: string;
  /** The default as a person reads it. */
  readonly default: string;
  /** What the flag means. */
  readonly help: string;
}

/** Every flag `fossora agent` accepts, in help order. */
export const AGENT_FLAGS: readonly FlagInfo[] = [
  {
    name: "config",
    kind: "string",
    arg: "PATH",
    default: "/etc/fossora/fossora.toml",
    help: "config file (TOML, keys are the flag names); only the default may be missing",
  },
  {
    name: "data-dir",
    kind: "string",
    arg: "PATH",
    default: "/var/lib/fossora",
    help: "all state of this node: identity, certificates, etcd data, admin token",
  },
  {
    name: "name",
    kind: "string",
    arg: "NAME",
    default: "host name",
    help: "node name, unique in the cluster, a DNS label",
  },
  {
    name: "advertise-addr",
    kind: "string",
    arg: "IPV4",
    default: "Tailscale IPv4 if tailscaled runs, else primary LAN address",
    help: "address other nodes use to reach this one",
  },
  {
    name: "bind-addr",
    kind: "string",
    arg: "IPV4",
    default: "0.0.0.0",
    help: "address the servers listen on (an IPv4 address or ::)",
  },
  {
    name: "api-port",
    kind: "port",
    arg: "PORT",
    default: "7440",
    help: "API, web UI and join endpoint (0 picks a free port)",
  },
  {
    name: "api-tls-port",
    kind: "port",
    arg: "PORT",
    default: "7443",
    help: "the API over TLS with the cluster CA: where joining nodes send the token (0: any port)",
  },
  {
    name: "mesh-port",
    kind: "port",
    arg: "PORT",
    default: "7441",
    help: "where other nodes reach this node's containers for a stack's services (mutual TLS " +
      "with the node certificates; 0: any port)",
  },
  {
    name: "etcd-client-port",
    kind: "port",
    arg: "PORT",
    default: "2379",
    help: "etcd client port",
  },
  { name: "etcd-peer-port", kind: "port", arg: "PORT", default: "2380", help: "etcd peer port" },
  {
    name: "http-port",
    kind: "port",
    arg: "PORT",
    default: "80",
    help: "the service proxy (0 picks a free port)",
  },
  {
    name: "https-port",
    kind: "port",
    arg: "PORT",
    default: "443",
    help:
      "the service proxy over TLS, with a certificate from the cluster CA (0 picks a free port)",
  },
  {
    name: "trusted-proxies",
    kind: "list",
    arg: "ADDR|CIDR,...",
    default: "none",
    help: "proxies in front of this node whose X-Forwarded-* and Forwarded fields are kept",
  },
  {
    name: "dns-port",
    kind: "port",
    arg: "PORT",
    default: "53",
    help: "the service DNS server (0 picks a free port)",
  },
  {
    name: "dns-upstream",
    kind: "list",
    arg: "IP[:PORT],...",
    default: "the resolvers in /etc/resolv.conf",
    help: "where names outside DOMAIN are forwarded (for clients on private networks), so the " +
      "nodes can be the LAN's DNS servers; comma-separated, repeatable",
  },
  {
    name: "domain",
    kind: "string",
    arg: "DOMAIN",
    default: "fossora.home.arpa",
    help: "services are NAME.DOMAIN",
  },
  {
    name: "join",
    kind: "list",
    arg: "HOST:PORT,...",
    default: "none",
    help: "agents to join through (static discovery); comma-separated, repeatable",
  },
  {
    name: "discovery",
    kind: "list",
    arg: "LIST",
    default: "tailscale,mdns",
    help: "automatic discovery to run: tailscale, mdns, or none",
  },
  {
    name: "token",
    kind: "string",
    arg: "TOKEN",
    default: "none",
    help: "the cluster join token (exclusive with --token-file)",
  },
  {
    name: "token-file",
    kind: "string",
    arg: "PATH",
    default: "none",
    help: "file holding the cluster join token",
  },
  {
    name: "docker-host",
    kind: "string",
    arg: "URL",
    default: "unix:///var/run/docker.sock",
    help: "the Docker engine this node runs containers on (unix://, tcp://, http://, https://)",
  },
  {
    name: "etcd-bin",
    kind: "string",
    arg: "PATH",
    default: "etcd on PATH",
    help: "the etcd server binary",
  },
  {
    name: "site",
    kind: "string",
    arg: "SITE",
    default: "default",
    help: "failure domain (a house); replicas spread across sites",
  },
  {
    name: "label",
    kind: "labels",
    arg: "KEY=VALUE",
    default: "none",
    help: "placement label, repeatable",
  },
  {
    name: "tailscale-socket",
    kind: "string",
    arg: "PATH",
    default: "/var/run/tailscale/tailscaled.sock",
    help: "tailscaled's LocalAPI socket",
  },
  {
    name: "tailscale-api-key-file",
    kind: "string",
    arg: "PATH",
    default: "none",
    help:
      "a Tailscale API access token, to keep tailnet split DNS for DOMAIN pointed at the ready nodes",
  },
  {
    name: "tailscale-api-url",
    kind: "string",
    arg: "URL",
    default: "https://api.tailscale.com",
    help: "where the Tailscale API answers",
  },
  {
    name: "tailscale-tag",
    kind: "string",
    arg: "TAG",
    default: "none",
    help: "a tailnet tag (tag:fossora) whose machines may join without a token",
  },

  {
    name: "max-voters",
    kind: "number",
    arg: "N",
    default: "5",
    help: "most etcd voters (odd, 1..7); other nodes are workers, clients of the voters",
  },
  {
    name: "etcd-tune-interval",
    kind: "number",
    arg: "SECONDS",
    default: "60",
    help: "how often a voter measures the round trip to the other etcd members and restarts its " +
      "member with a heartbeat and election timeout to match, one member at a time (0: never)",
  },
  { name: "debug", kind: "bool", arg: "", default: "false", help: "debug logs and stack traces" },
];

/** Flag names, for lookups and "did you mean" hints. */
export const FLAG_NAMES: readonly string[] = AGENT_FLAGS.map((f) => f.name);

/** The flag with this name, if any. */
export function findFlag(name: string): FlagInfo | undefined {
  return AGENT_FLAGS.find((f) => f.name === name);
}

/** `FOSSORA_` + the flag name in upper snake case: `data-dir` -> `FOSSORA_DATA_DIR`. */
export function envName(flag: string): string {
  return "FOSSORA_" + flag.toUpperCase().replace(/-/g, "_");
}

/**
 * FOSSORA_ variables that name no agent flag but are in use elsewhere (client commands, logging,
 * the built launcher's FOSSORA_DENO), so the agent must not reject them.
 */
export const FOREIGN_ENV: readonly string[] = [
  "FOSSORA_API",
  "FOSSORA_API_TOKEN",
  "FOSSORA_LOG_LEVEL",
  "FOSSORA_DENO",
];

/** Prefix of variables for the test suite, which agents started by tests inherit. */
export const FOREIGN_ENV_PREFIX = "FOSSORA_TEST_";

/**
 * Top-level config-file tables the agent ignores because other programs own them (the appliance
 * image's first-boot settings such as host name, Wi-Fi and SSH keys live under `[image]`).
 */
export const FOREIGN_TABLES: readonly string[] = ["image"];

/** The text of `fossora agent --help`: every flag with its default and meaning. */
export function agentHelp(): string {
  const rows = AGENT_FLAGS.flatMap((f) => [
    `  --${f.name}${f.arg ? " " + f.arg : ""}`,
    `        ${f.help}`,
    `        default: ${f.default}`,
  ]);
  return [
    "Usage: fossora agent [flags]",
    "",
    "Runs this node: its etcd member or client, discovery, scheduler, containers, proxy, DNS, API.",
    "",
    "Flags (--flag value or --flag=value):",
    ...rows,
    "  --help",
    "        this help",
    "",
    "Every flag can also come from the environment (FOSSORA_ + the flag in upper snake case, e.g.",
    "FOSSORA_HTTP_PORT; lists comma-separated; empty means unset) and from the config file (keys",
    'are the flag names, e.g. http-port = 8080, label = ["disk=ssd"]; a top-level [image] table is',
    "ignored). Flag beats environment beats file beats default.",
  ].join("\n");
}
