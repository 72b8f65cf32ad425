/**
 * A fake tailscaled for tests: a LocalAPI server on a unix socket in a temporary folder that
 * answers `/localapi/v0/status`, `/localapi/v0/whois` and `/localapi/v0/cert/NAME` in the real
 * wire format (Go's JSON of
 * `ipnstate.Status` and `apitype.WhoIsResponse`: PascalCase names, `Peer` keyed by
 * `nodekey:<hex>`, DNS names with a trailing dot, `Tags` absent when empty, 64-bit IDs as bare
 * numbers, tab-indented) and enforces its rules (Host `local-tailscaled.sock` or none; any
 * `Origin` or `Referer` is 403; whois 400 without `addr`, 404 for an unknown one). Tailscale is
 * the one outside service fossora cannot run in tests, so the production client talks to this.
 * @module
 */
import { LOCAL_API_HOST } from "./tailscale.ts";
import { isIPv4 } from "./tailscale.ts";
import { ipv6Bytes } from "../util/ip.ts";
import {
  type ClusterCA,
  createClusterCA,
  type IssuedCert,
  issueServerCert,
} from "../etcd/certs.ts";

/** A Tailscale user (a login, or the `tagged-devices` pseudo-user that owns tagged nodes). */
export interface FakeUser {
  id: bigint | number;
  loginName: string;
  displayName?: string;
}

/** A machine of the fake tailnet. */
export interface FakeNode {
  /** OS host name; also the MagicDNS base name. */
  hostName: string;
  /** Tailscale addresses, IPv4 first as tailscaled lists them. */
  ips: string[];
  /** The owner's user ID (for a tagged node, the `tagged-devices` user's). */
  user: bigint | number;
  tags?: string[];
  /** Connected to the control plane; default true. */
  online?: boolean;
  os?: string;
  /** Who shared this node into the tailnet (a node of another tailnet); default none. */
  sharer?: bigint | number;
  /** A machine of a user this tailnet shared a node to. */
  shareeNode?: boolean;
}

/** What the fake tailscaled knows; change it between requests to change its answers. */
export interface FakeTailnet {
  /** Default `Running`. Not `Running` means no network map: no IPs, peers or whois answers. */
  backendState?: string;
  /** Default `tail4f2a1c.ts.net`. */
  magicDNSSuffix?: string;
  /** The tailnet's name, default `example.com`. */
  name?: string;
  self: FakeNode;
  peers?: FakeNode[];
  users: FakeUser[];
  /**
   * HTTPS certificates are on in the admin console: `CertDomains` lists this node's MagicDNS
   * name and `/localapi/v0/cert/NAME` answers a certificate from {@link FakeTailscaled.authority}
   * (Let's Encrypt's stand-in). Default off.
   */
  https?: boolean;
}

/** A request the fake received, for assertions. */
export interface FakeRequest {
  method: string;
  pathAndQuery: string;
  host: string | null;
}

/** The tagged-devices pseudo-user as Tailscale's control plane reports it. */
export const TAGGED_DEVICES = { loginName: "tagged-devices", displayName: "Tagged Devices" };

const ZERO_TIME = "0001-01-01T00:00:00Z";
const VERSION = "1.90.6-t5a1e21f2b-g4c6b1c7ae";
const CAPABILITY_VERSION = 125;

/**
 * A running fake tailscaled; dispose of it to stop it and remove its socket.
 * @example
 * ```ts
 * await using ts = await FakeTailscaled.start({ self, peers, users });
 * using client = new LocalApiClient({ socketPath: ts.socketPath });
 * ```
 */
export class FakeTailscaled implements AsyncDisposable {
  /** Every request received, in order. */
  readonly requests: FakeRequest[] = [];
  /**
   * Answers in place of the fake (after its Host/Origin check) when it returns a Response:
   * for malformed, oversized or slow answers.
   */
  respondWith?: (req: Request) => Response | Promise<Response> | undefined;
  /** Aborts when the fake starts closing: a `respondWith` that hangs should end then. */
  readonly closing: AbortSignal;

  readonly #closing = new AbortController();

  readonly #keys = new WeakMap<FakeNode, string>();
  #ca: Promise<ClusterCA> | undefined;
  readonly #certs = new Map<string, IssuedCert>();
  readonly #ids = new WeakMap<FakeNode, number>();
  #nextId = 1001;

  private constructor(
    public tailnet: FakeTailnet,
    readonly socketPath: string,
    readonly dir: string,
    readonly server: Deno.HttpServer<Deno.UnixAddr>,
  ) {
    this.closing = this.#closing.signal;
  }

  /** Starts a fake tailscaled on `DIR/tailscaled.sock` in a new temporary folder. */
  static async start(tailnet: FakeTailnet): Promise<FakeTailscaled> {
    const dir = await Deno.makeTempDir({ prefix: "fossora-tailscaled-" });
    const socketPath = `${dir}/tailscaled.sock`;
    const ref: { fake?: FakeTailscaled } = {};
    const listening = Promise.withResolvers<void>();
    const server = Deno.serve(
      { path: socketPath, onListen: () => listening.resolve() },
      (req) => ref.fake!.#handle(req),
    );
    const fake = new FakeTailscaled(tailnet, socketPath, dir, server);
    ref.fake = fake;
    await listening.promise;
    return fake;
  }

  /** Stops the server and removes its folder. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.server.shutdown();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The fake's stand-in for Let's Encrypt: the CA its certificates are signed by. */
  async authority(): Promise<ClusterCA> {
    this.#ca ??= createClusterCA();
    return await this.#ca;
  }

  /** How many certificates the fake issued (tailscaled caches them: once per name). */
  certsIssued = 0;

  /** ipn/localapi serveCert and serveKeyPair, with checkCertDomain's refusals. */
  async #cert(url: URL): Promise<Response> {
    const domain = url.pathname.slice("/localapi/v0/cert/".length);
    const t = this.tailnet;
    const permitted = (t.backendState ?? "Running") === "Running" && t.https
      ? [this.#dnsName(t.self).slice(0, -1)]
      : [];
    if (domain === "") return goError("missing domain name", 500);
    if (permitted.length === 0) {
      return goError("your Tailscale account does not support getting TLS certs", 500);
    }
    if (!permitted.includes(domain)) {
      return goError(`invalid domain "${domain}"; only "${permitted[0]}" is permitted`, 500);
    }
    let pair = this.#certs.get(domain);
    if (!pair) {
      pair = await issueServerCert(await this.authority(), [domain], 90);
      this.#certs.set(domain, pair);
      this.certsIssued++;
    }
    const type = url.searchParams.get("type") ?? "";
    const body = ["", "crt", "cert"].includes(type)
      ? pair.certPem
      : type === "key"
      ? pair.keyPem
      : type === "pair"
      ? pair.keyPem + pair.certPem
      : undefined;
    if (body === undefined) {
      return goError('invalid type; want "cert" (default), "key", or "pair"', 400);
    }
    return new Response(body, { headers: goHeaders("text/plain") });
  }

  /** The `nodekey:<hex>` the fake gave `node` (the key of its entry in `Peer`). */
  nodeKey(node: FakeNode): string {
    let key = this.#keys.get(node);
    if (!key) {
      const bytes = crypto.getRandomValues(new Uint8Array(32));
      key = `nodekey:${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
      this.#keys.set(node, key);
    }
    return key;
  }

  #nodeId(node: FakeNode): number {
    let id = this.#ids.get(node);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(node, id);
    }
    return id;
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const host = req.headers.get("host");
    this.requests.push({ method: req.method, pathAndQuery: url.pathname + url.search, host });
    // ipn/localapi ServeHTTP: Referer, Origin or another Host is a browser's doing.
    if (
      req.headers.get("referer") || req.headers.get("origin") ||
      !(host === null || host === "" || host === LOCAL_API_HOST)
    ) {
      return goError("invalid localapi request", 403);
    }
    const override = await this.respondWith?.(req);
    if (override) return override;
    switch (url.pathname) {
      case "/localapi/v0/status":
        return this.#status(url);
      case "/localapi/v0/whois":
        return this.#whois(url);
      default:
        if (url.pathname.startsWith("/localapi/v0/cert/")) return await this.#cert(url);
        return goError("404 page not found", 404);
    }
  }

  get #running(): boolean {
    return (this.tailnet.backendState ?? "Running") === "Running";
  }

  get #suffix(): string {
    return this.tailnet.magicDNSSuffix ?? "tail4f2a1c.ts.net";
  }

  #status(url: URL): Response {
    const t = this.tailnet;
    const peers = goBool(url.searchParams.get("peers") ?? "", true);
    const running = this.#running;
    const users: Record<string, unknown> = {};
    const addUser = (id: bigint | number) => {
      const u = t.users.find((u) => BigInt(u.id) === BigInt(id));
      if (u) users[String(u.id)] = userProfile(u);
    };
    let peerMap: Record<string, unknown> | null = null;
    if (running) {
      // Since tailscale#19894 the self user's profile is there even with peers=false.
      addUser(t.self.user);
      if (peers) {
        for (const u of t.users) users[String(u.id)] = userProfile(u);
        peerMap = {};
        const sorted = (t.peers ?? []).map((p) => [this.nodeKey(p), p] as const)
          .sort(([a], [b]) => (a < b ? -1 : 1));
        for (const [key, p] of sorted) peerMap[key] = this.#peerStatus(p, false);
      }
    }
    const body = {
      Version: VERSION,
      TUN: true,
      BackendState: t.backendState ?? "Running",
      ...(running ? { HaveNodeKey: true } : {}),
      AuthURL: t.backendState === "NeedsLogin" ? "https://login.tailscale.com/a/1a2b3c4d5e6f7" : "",
      TailscaleIPs: running ? t.self.ips : null,
      Self: running ? this.#peerStatus(t.self, true) : this.#loggedOutSelf(),
      Health: [],
      MagicDNSSuffix: running ? this.#suffix : "",
      CurrentTailnet: running
        ? { Name: t.name ?? "example.com", MagicDNSSuffix: this.#suffix, MagicDNSEnabled: true }
        : null,
      CertDomains: running && t.https ? [this.#dnsName(t.self).slice(0, -1)] : null,
      ExtraRecords: null,
      Peer: peerMap,
      User: Object.keys(users).length > 0 ? users : null,
      ClientVersion: null,
    };
    // json.Encoder with SetIndent("", "\t"), which ends with a newline.
    return goJson(body, "\n");
  }

  /** Self before login: no network map, so mostly zero values (ipnlocal updateStatusLocked). */
  #loggedOutSelf(): unknown {
    return {
      ...this.#peerStatus(this.tailnet.self, true),
      ID: "",
      NodeID: 0,
      PublicKey: "nodekey:" + "0".repeat(64),
      DNSName: "",
      UserID: 0,
      TailscaleIPs: null,
      Tags: undefined,
      AllowedIPs: undefined,
      Online: false,
      InNetworkMap: false,
      Created: ZERO_TIME,
    };
  }

  #peerStatus(node: FakeNode, self: boolean): Record<string, unknown> {
    const online = node.online ?? true;
    const id = this.#nodeId(node);
    return {
      ID: `n${id.toString(36).toUpperCase()}CNTRL`,
      NodeID: id,
      PublicKey: this.nodeKey(node),
      HostName: node.hostName,
      DNSName: this.#dnsName(node),
      OS: node.os ?? "linux",
      UserID: jsonInt(node.user),
      ...(node.sharer ? { AltSharerUserID: jsonInt(node.sharer) } : {}),
      TailscaleIPs: node.ips,
      AllowedIPs: node.ips.map(prefix),
      ...(node.tags && node.tags.length > 0 ? { Tags: node.tags } : {}),
      Addrs: self ? null : ["192.0.2.10:41641"],
      CurAddr: "",
      Relay: "fra",
      PeerRelay: "",
      RxBytes: 0,
      TxBytes: 0,
      Created: "2026-01-12T09:30:00Z",
      LastWrite: ZERO_TIME,
      // Only present (non-zero) for an offline peer.
      LastSeen: online || self ? ZERO_TIME : "2026-11-30T18:04:11Z",
      LastHandshake: ZERO_TIME,
      Online: online,
      ExitNode: false,
      ExitNodeOption: false,
      Active: false,
      PeerAPIURL: node.ips.map((ip) =>
        `http://${isIPv4(ip) ? ip : `[${ip}]`}:${self ? 43000 : 40911}`
      ),
      TaildropTarget: self ? 0 : 1,
      NoFileSharingReason: "",
      ...(node.shareeNode ? { ShareeNode: true } : {}),
      InNetworkMap: true,
      InMagicSock: !self,
      InEngine: !self,
      KeyExpiry: "2027-05-31T09:30:00Z",
    };
  }

  #dnsName(node: FakeNode): string {
    return `${node.hostName.toLowerCase()}.${this.#suffix}.`;
  }

  #whois(url: URL): Response {
    // ipn/localapi serveWhoIsWithBackend, with its texts.
    const addr = url.searchParams.get("addr") ?? "";
    if (addr === "") return goError("missing 'addr' parameter", 400);
    const nodes = [this.tailnet.self, ...(this.tailnet.peers ?? [])];
    let node: FakeNode | undefined;
    if (addr.startsWith("nodekey:")) {
      if (!/^nodekey:[0-9a-f]{64}$/.test(addr)) {
        return goError("invalid nodekey in 'addr' parameter", 400);
      }
      node = nodes.find((n) => this.nodeKey(n) === addr);
    } else {
      const ip = ipOf(addr);
      if (ip === undefined) return goError("invalid 'addr' parameter", 400);
      node = nodes.find((n) => n.ips.some((a) => sameIP(a, ip)));
    }
    if (!node || !this.#running) return goError("no match for IP:port", 404);
    const user = this.tailnet.users.find((u) => BigInt(u.id) === BigInt(node.user));
    const body = {
      Node: this.#node(node),
      UserProfile: user
        ? userProfile(user)
        : { ID: jsonInt(node.user), LoginName: "", DisplayName: "" },
      CapMap: null,
    };
    // json.MarshalIndent: no trailing newline.
    return goJson(body, "");
  }

  /** A tailcfg.Node as whois sends it. */
  #node(node: FakeNode): unknown {
    const id = this.#nodeId(node);
    const hex = this.nodeKey(node).slice("nodekey:".length);
    return {
      ID: id,
      StableID: `n${id.toString(36).toUpperCase()}CNTRL`,
      Name: this.#dnsName(node),
      User: jsonInt(node.user),
      ...(node.sharer ? { Sharer: jsonInt(node.sharer) } : {}),
      Key: this.nodeKey(node),
      KeyExpiry: "2027-05-31T09:30:00Z",
      Machine: `mkey:${hex.split("").reverse().join("")}`,
      DiscoKey: `discokey:${hex.slice(32)}${hex.slice(0, 32)}`,
      Addresses: node.ips.map(prefix),
      AllowedIPs: node.ips.map(prefix),
      Endpoints: ["192.0.2.10:41641"],
      HomeDERP: 4,
      Hostinfo: {
        IPNVersion: VERSION,
        OS: node.os ?? "linux",
        Hostname: node.hostName,
        ...(node.shareeNode ? { ShareeNode: true } : {}),
        ...(node.tags && node.tags.length > 0 ? { RequestTags: node.tags } : {}),
      },
      Created: "2026-01-12T09:30:00Z",
      Cap: CAPABILITY_VERSION,
      ...(node.tags && node.tags.length > 0 ? { Tags: node.tags } : {}),
      ...(node.online ?? true ? {} : { LastSeen: "2026-11-30T18:04:11Z" }),
      Online: node.online ?? true,
      MachineAuthorized: true,
      ComputedName: node.hostName.toLowerCase(),
      ComputedNameWithHost: node.hostName.toLowerCase(),
    };
  }
}

function userProfile(u: FakeUser): unknown {
  return { ID: jsonInt(u.id), LoginName: u.loginName, DisplayName: u.displayName ?? u.loginName };
}

/** A marker for an integer written as a bare JSON number, exactly, even past 2^53. */
class Int {
  constructor(readonly text: string) {}
}

function jsonInt(n: bigint | number): Int {
  return new Int(BigInt(n).toString());
}

function prefix(ip: string): string {
  return isIPv4(ip) ? `${ip}/32` : `${ip}/128`;
}

/** Go's JSON of `body`: tab-indented, `<`, `>`, `&` escaped as encoding/json does. */
function goJson(body: unknown, end: string): Response {
  const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
  const text = JSON.stringify(
    body,
    (_k, v) => (v instanceof Int ? rawJSON(v.text) : v),
    "\t",
  ).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  return new Response(text + end, { headers: goHeaders("application/json") });
}

/** Go's http.Error: text, a newline, text/plain and nosniff. */
function goError(text: string, status: number): Response {
  return new Response(`${text}\n`, { status, headers: goHeaders("text/plain; charset=utf-8") });
}

function goHeaders(contentType: string): Headers {
  return new Headers({
    "content-type": contentType,
    "tailscale-version": VERSION,
    "tailscale-cap": String(CAPABILITY_VERSION),
    "content-security-policy":
      "default-src 'none'; frame-ancestors 'none'; script-src 'none'; script-src-elem 'none'; script-src-attr 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
  });
}

/** Go's strconv.ParseBool with a default, as util/def.Bool reads `peers`. */
function goBool(s: string, def: boolean): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(s)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(s)) return false;
  return def;
}

/** The IP of `addr` as netip.ParseAddr or ParseAddrPort take it; undefined when neither does. */
function ipOf(addr: string): string | undefined {
  if (isIPv4(addr) || ipv6Bytes(addr)) return addr;
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(addr) ?? /^([^:]+):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[2]) > 65535) return undefined;
  const ip = m[1];
  const bracketed = addr.startsWith("[");
  return (bracketed ? ipv6Bytes(ip) !== undefined : isIPv4(ip)) ? ip : undefined;
}

function sameIP(a: string, b: string): boolean {
  if (isIPv4(a) || isIPv4(b)) return a === b;
  const x = ipv6Bytes(a);
  const y = ipv6Bytes(b);
  return x !== undefined && y !== undefined && x.every((v, i) => v === y[i]);
}
