/**
 * Parsers for each kind of setting. Each returns the typed value or throws InvalidValue with the
 * reason only; the loader prefixes the key and where the value came from.
 * @module
 */
import { TrustedProxies } from "../proxy/forwarded.ts";
import { parseUpstream } from "../dns/upstreams.ts";
import { isDnsLabel } from "../util/names.ts";
import { InvalidValue, quote } from "./error.ts";

/** Automatic discovery mechanisms the agent knows. */
export const DISCOVERY_KINDS: readonly string[] = ["tailscale", "mdns"];

const LABEL_KEY_RE = /^[a-z0-9._/-]{1,63}$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9._-]{0,63}$/;

/** A port number; `allowZero` lets 0 mean "any free port" (useful in tests). */
export function parsePort(raw: unknown, allowZero: boolean): number {
  const low = allowZero ? 0 : 1;
  const n = typeof raw === "number"
    ? raw
    : typeof raw === "string" && /^\d{1,5}$/.test(raw.trim())
    ? Number(raw.trim())
    : NaN;
  if (Number.isInteger(n) && n >= low && n <= 65535) return n;
  const hint = allowZero ? " (0 picks a free port)" : "";
  throw new InvalidValue(`expected a port number ${low}..65535${hint}, got ${quote(raw)}`);
}

/** A DNS label, as node names and sites must be. */
export function parseDnsLabel(s: string): string {
  if (isDnsLabel(s)) return s;
  throw new InvalidValue(
    `expected a DNS label (lowercase a-z, 0-9 and '-', 1..63 characters, not starting or ending with '-'), got ${
      quote(s)
    }`,
  );
}

/** True for a DNS name of lowercase labels, at most 253 characters, trailing dot allowed. */
export function isDnsName(s: string): boolean {
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  return name.length > 0 && name.length <= 253 && name.split(".").every(isDnsLabel);
}

/** A DNS name such as `fossora.home.arpa`; a trailing dot is dropped. */
export function parseDnsName(s: string): string {
  if (isDnsName(s)) return s.replace(/\.$/, "");
  throw new InvalidValue(
    `expected a DNS name of lowercase labels separated by dots (e.g. fossora.home.arpa), got ${
      quote(s)
    }`,
  );
}

/** True for a dotted-quad IPv4 address without leading zeros. */
export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** An IPv4 address, as the advertise address must be. */
export function parseIPv4(s: string): string {
  if (isIPv4(s)) return s;
  throw new InvalidValue(`expected an IPv4 address like 192.168.1.10, got ${quote(s)}`);
}

/** The listen address: an IPv4 address, or `::` for every address. */
export function parseBindAddr(s: string): string {
  if (s === "::" || isIPv4(s)) return s;
  throw new InvalidValue(`expected an IPv4 address or ::, got ${quote(s)}`);
}

/** One `host:port`, host being an IPv4 address, a host name or a bracketed IPv6 address. */
export function parseHostPort(s: string): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(\d{1,5})$/.exec(s);
  const host = m?.[1].toLowerCase() ?? "";
  const hostOk = host.startsWith("[") || isIPv4(host) || isDnsName(host);
  const port = m ? Number(m[2]) : 0;
  if (m && hostOk && port >= 1 && port <= 65535) return `${host}:${port}`;
  throw new InvalidValue(`expected host:port (e.g. 192.168.1.10:7440), got ${quote(s)}`);
}

/** The `--join` list: every item must be `host:port`. */
export function parseJoin(items: string[]): string[] {
  return items.map(parseHostPort);
}

/** The `--trusted-proxies` list: addresses or CIDRs (IPv4 or IPv6), or `none`. */
export function parseTrustedProxies(items: string[]): string[] {
  if (items.length === 1 && items[0] === "none") return [];
  for (const item of items) {
    try {
      new TrustedProxies([item]);
    } catch {
      throw new InvalidValue(
        `expected addresses or CIDRs such as 192.168.1.2 or 10.0.0.0/8, got ${quote(item)}`,
      );
    }
  }
  return items;
}

/** The `--discovery` list: a subset of tailscale,mdns, or exactly `none` (giving []). */
export function parseDiscovery(items: string[]): string[] {
  if (items.length === 1 && items[0] === "none") return [];
  const out: string[] = [];
  for (const item of items) {
    if (item === "none") {
      throw new InvalidValue(`"none" cannot be combined with other discovery kinds`);
    }
    if (!DISCOVERY_KINDS.includes(item)) {
      throw new InvalidValue(
        `expected ${DISCOVERY_KINDS.join(", ")} (comma-separated) or none, got ${quote(item)}`,
      );
    }
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

/** `--label key=value` items into a map; keys [a-z0-9._/-], each key once. */
export function parseLabels(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? "" : item.slice(0, eq);
    const value = eq < 0 ? "" : item.slice(eq + 1);
    if (!LABEL_KEY_RE.test(key) || !LABEL_VALUE_RE.test(value)) {
      throw new InvalidValue(
        `expected key=value with key of a-z, 0-9, '.', '_', '/', '-' and value of letters, digits, '.', '_', '-', got ${
          quote(item)
        }`,
      );
    }
    if (key in out) throw new InvalidValue(`label key ${quote(key)} is given twice`);
    out[key] = value;
  }
  return out;
}

/** A non-empty string such as a path. */
export function parseNonEmpty(s: string): string {
  if (s.trim() !== "") return s;
  throw new InvalidValue("expected a non-empty value");
}

/** A join token: non-empty, no whitespace (it travels in HTTP headers). */
/** `--max-voters`: an odd count of etcd voters, 1..7 (an even count tolerates no more failures). */
export function parseMaxVoters(s: string | number): number {
  const n = Number(s);
  if ([1, 3, 5, 7].includes(n)) return n;
  throw new InvalidValue(
    `expected 1, 3, 5 or 7 (an odd number of voters), got ${quote(String(s))}`,
  );
}

/** `--etcd-tune-interval`: seconds between measurements, 0 (never) or 1 s to a day. */
export function parseTuneInterval(s: string | number): number {
  const n = Number(s);
  if (n === 0 || (Number.isFinite(n) && n >= 1 && n <= 86_400)) return n;
  throw new InvalidValue(
    `expected seconds from 1 to 86400, or 0 for never, got ${quote(String(s))}`,
  );
}

/** `--tailscale-tag`: `tag:` and a name, as Tailscale spells tags. */
/** An http or https URL without credentials (the Tailscale API's base). */
export function parseHttpUrl(s: string): string {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new InvalidValue(`expected a URL such as https://api.tailscale.com, got ${quote(s)}`);
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) {
    throw new InvalidValue(`expected an http(s) URL without credentials, got ${quote(s)}`);
  }
  return s;
}

export function parseTailscaleTag(s: string): string {
  if (/^tag:[A-Za-z][A-Za-z0-9-]{0,99}$/.test(s)) return s;
  throw new InvalidValue(`expected a tailnet tag such as tag:fossora, got ${quote(s)}`);
}

export function parseToken(s: string): string {
  if (/^\S+$/.test(s)) return s;
  throw new InvalidValue("expected a token without spaces or line breaks");
}

/** The Docker engine address, as Docker's own DOCKER_HOST understands it. */
export function parseDockerHost(s: string): string {
  if (/^unix:\/\/\/\S+$/.test(s)) return s;
  if (/^(tcp|http|https):\/\/[^\s/]+(:\d+)?\/?$/.test(s)) return s;
  throw new InvalidValue(
    `expected unix:///path/to/docker.sock or tcp://host:port, got ${quote(s)}`,
  );
}

/**
 * The default node name from the host name: the first label, lowercased, with characters a DNS
 * label cannot hold replaced by '-'.
 */
export function nameFromHostname(hostname: string): string {
  const first = hostname.split(".")[0].toLowerCase().replace(/[^a-z0-9-]/g, "-");
  const trimmed = first.slice(0, 63).replace(/^-+|-+$/g, "");
  return trimmed === "" ? "node" : trimmed;
}

/** The `--dns-upstream` list: `IP` or `IP:PORT` each (`[IPV6]:PORT`), normalised. */
export function parseDnsUpstream(items: string[]): string[] {
  if (items.length === 0) {
    throw new InvalidValue("expected resolvers such as 192.168.1.1 or 192.168.1.1:5353, got none");
  }
  return items.map((item) => {
    try {
      return parseUpstream(item).label;
    } catch (e) {
      throw new InvalidValue((e as Error).message);
    }
  });
}
