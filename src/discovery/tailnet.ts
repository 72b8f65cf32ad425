/**
 * What fossora makes of tailscaled's answers: this node's tailnet address (the default
 * `--advertise-addr`), the peers worth probing for a fossora API, and whether a joiner that
 * came over the tailnet without a token may join. The decisions are pure functions of the
 * answers, so they are tested without a tailscaled.
 * @module
 */
import {
  isIPv4,
  type LocalApiClient,
  TailscaleError,
  type TailscaleStatus,
  type TailscaleWhois,
  whoisAddr,
} from "./tailscale.ts";

/** The login name of the pseudo-user that owns every tagged node. */
export const TAGGED_DEVICES_LOGIN = "tagged-devices";

/**
 * This node's Tailscale IPv4 when tailscaled is `Running`, else undefined: the default
 * `--advertise-addr`, since every machine of the tailnet reaches this node there wherever it is.
 */
export function tailscaleAdvertiseAddr(status: TailscaleStatus): string | undefined {
  if (status.BackendState !== "Running") return undefined;
  const ips = status.TailscaleIPs.length > 0 ? status.TailscaleIPs : status.Self?.TailscaleIPs;
  return ips?.find(isIPv4);
}

/**
 * The IPv4 addresses of the online peers, without this node's own, each once, in the order
 * tailscaled lists them. Machines of users this node was shared to (`ShareeNode`) are left
 * out: they are someone else's, present only so they can reach this node.
 */
export function tailnetCandidates(status: TailscaleStatus): string[] {
  if (status.BackendState !== "Running") return [];
  const own = new Set([...status.TailscaleIPs, ...(status.Self?.TailscaleIPs ?? [])]);
  const out = new Set<string>();
  for (const peer of status.Peer.values()) {
    if (!peer.Online || peer.ShareeNode) continue;
    for (const ip of peer.TailscaleIPs) {
      if (isIPv4(ip) && !own.has(ip)) out.add(ip);
    }
  }
  return [...out];
}

/** Whether a joiner without a token may join, and why, in words for the admission log. */
export type TrustDecision = { trusted: true; why: string } | { trusted: false; why: string };

/**
 * Whether the machine tailscaled's whois names may join without a token: it carries `tag`
 * (`--tailscale-tag`), or it is a machine of the same user as this node. Tagged machines (owned
 * by the `tagged-devices` pseudo-user) are trusted by tag only, and so is everything when this
 * node is itself tagged; a node shared in from another tailnet never is. A failed lookup (an
 * Error in place of the whois) is never trusted.
 */
export function tailnetTrust(
  whois: TailscaleWhois | Error,
  self: TailscaleStatus,
  tag?: string,
): TrustDecision {
  if (whois instanceof Error) return no(`tailscale could not say who it is: ${whois.message}`);
  if (self.BackendState !== "Running") {
    return no(`this node's tailscale is ${self.BackendState}, not Running`);
  }
  const node = whois.Node;
  const profile = whois.UserProfile;
  const who = node.Name || node.Hostinfo.Hostname || `node ${node.ID}`;
  if (node.Sharer !== "0") {
    return no(`${who} is shared in from another tailnet, not one of this tailnet's machines`);
  }
  if (tag && node.Tags.includes(tag)) return yes(`${who} carries ${tag}`);
  const nodeTagged = node.Tags.length > 0 || profile.LoginName === TAGGED_DEVICES_LOGIN;
  if (nodeTagged) {
    const tags = node.Tags.join(", ") || "tags";
    return no(
      tag
        ? `${who} is a tagged machine (${tags}) without ${tag}`
        : `${who} is a tagged machine (${tags}) and --tailscale-tag is not set`,
    );
  }
  const selfUser = self.Self?.UserID ?? "0";
  const selfLogin = self.User.get(selfUser)?.LoginName;
  if ((self.Self?.Tags.length ?? 0) > 0 || selfLogin === TAGGED_DEVICES_LOGIN) {
    return no(
      `this node is a tagged machine, so only tagged machines are trusted` +
        (tag ? ` (${tag}), and ${who} is not one` : `; set --tailscale-tag to trust some`),
    );
  }
  if (selfUser === "0") return no("tailscale did not say which user this node belongs to");
  if (node.User !== profile.ID) {
    return no(
      `tailscale's whois of ${who} names two different users (${node.User}, ${profile.ID})`,
    );
  }
  const login = profile.LoginName || `user ${profile.ID}`;
  if (profile.ID !== selfUser) {
    return no(`${who} belongs to ${login}, not to ${selfLogin ?? `user ${selfUser}`}`);
  }
  // Same ID: the login names must agree too when both are known (an odd answer is not trust).
  if (selfLogin !== undefined && profile.LoginName !== selfLogin) {
    return no(`${who} is user ${profile.ID} as ${login}, but this node's user is ${selfLogin}`);
  }
  return yes(`${who} belongs to ${login}, as this node does`);
}

/**
 * Asks tailscaled who is behind a connection from `remote` (its `hostname` and `port`, or an
 * address text: a bare IP or `IP:port`) and decides with {@link tailnetTrust}. Never throws: any failure (tailscaled down, an address off the tailnet,
 * a malformed answer) is a decision not to trust, with the reason.
 * @example
 * ```ts
 * const d = await tailnetJoinerTrust(client, { hostname: "100.101.102.103", port: 51234 }, "tag:fossora");
 * if (!d.trusted) log.info("joiner waits as pending", { why: d.why });
 * ```
 */
export async function tailnetJoinerTrust(
  client: Pick<LocalApiClient, "status" | "whois">,
  remote: string | { hostname: string; port: number },
  tag?: string,
  signal?: AbortSignal,
): Promise<TrustDecision> {
  const addr = typeof remote === "string"
    ? unmapIPv4(remote)
    : whoisAddr(remote.hostname, remote.port);
  const [whois, self] = await Promise.all([
    client.whois(addr, { signal }).catch(asError),
    client.status({ peers: false, signal }).catch(asError),
  ]);
  if (self instanceof Error) return no(`tailscale could not say who this node is: ${self.message}`);
  return tailnetTrust(whois, self, tag);
}

/**
 * Why `text` is not a usable `--tailscale-tag`, or undefined when it is one: `tag:`, a letter,
 * then letters, digits and '-', as Tailscale's CheckTag allows (bounded here to 100 characters).
 */
export function checkTailscaleTag(text: string): string | undefined {
  if (/^tag:[A-Za-z][A-Za-z0-9-]{0,99}$/.test(text)) return undefined;
  return `${JSON.stringify(text.slice(0, 80))} is not a Tailscale tag; write it as tag:NAME, ` +
    "e.g. tag:fossora";
}

/** `::ffff:100.64.0.1` (an IPv4 client of a dual-stack listener) as tailscaled knows it. */
function unmapIPv4(addr: string): string {
  return addr.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1");
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new TailscaleError("unreachable", String(err));
}

function yes(why: string): TrustDecision {
  return { trusted: true, why };
}

function no(why: string): TrustDecision {
  return { trusted: false, why };
}
