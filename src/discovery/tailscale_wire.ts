/**
 * tailscaled's LocalAPI answers, read strictly: the JSON is Go's encoding of
 * `ipnstate.Status` and `apitype.WhoIsResponse` (PascalCase field names, `null` for empty
 * slices and maps, `Tags` absent when empty), and only the fields fossora uses are kept. An
 * answer of another shape is a {@link TailscaleError}, never a crash further on; integer IDs
 * are kept as their exact decimal text, because Tailscale's 64-bit user IDs can pass 2^53 and
 * two of them must never compare equal by rounding.
 * @module
 */

/** What went wrong talking to tailscaled; `code` lets callers react without reading text. */
export type TailscaleErrorCode =
  | "no_socket"
  | "not_running"
  | "permission"
  | "timeout"
  | "forbidden"
  | "not_found"
  | "http"
  | "bad_answer"
  | "bad_input"
  | "unreachable"
  | "not_logged_in";

/** An error from the LocalAPI client; its message says what to do. */
export class TailscaleError extends Error {
  constructor(readonly code: TailscaleErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TailscaleError";
  }
}

/** A user profile (`tailcfg.UserProfile`): who owns a node. */
export interface TailscaleUserProfile {
  /** The user ID as exact decimal text. */
  ID: string;
  /** `alice@example.com`, or `tagged-devices` for the owner of every tagged node. */
  LoginName: string;
  DisplayName: string;
}

/** One node in a status answer (`ipnstate.PeerStatus`), self or a peer. */
export interface TailscalePeerStatus {
  /** The stable node ID (`nXXXXCNTRL`); empty when tailscaled did not send one. */
  ID: string;
  /** The machine's OS host name: chosen by the machine itself, neither unique nor trusted. */
  HostName: string;
  /** The MagicDNS name with its trailing dot (`nas.tail1234.ts.net.`). */
  DNSName: string;
  TailscaleIPs: string[];
  /** ACL tags (`tag:fossora`); empty for a user's machine. */
  Tags: string[];
  /** Whether the node is connected to the control plane now. */
  Online: boolean;
  /** The owner's user ID as exact decimal text. */
  UserID: string;
  /** A machine of a user this node was shared to: not one of the tailnet's own. */
  ShareeNode: boolean;
}

/** The parts of `GET /localapi/v0/status` fossora uses. */
export interface TailscaleStatus {
  /** `NoState`, `NeedsLogin`, `NeedsMachineAuth`, `Stopped`, `Starting` or `Running`. */
  BackendState: string;
  /** This node's Tailscale addresses. */
  TailscaleIPs: string[];
  /** This node; tailscaled always sends it, but an old or odd one may not. */
  Self?: TailscalePeerStatus;
  /** Peers by node key (`nodekey:<hex>`); empty when asked with `peers=false`. */
  Peer: Map<string, TailscalePeerStatus>;
  /** User profiles by user ID (decimal text). */
  User: Map<string, TailscaleUserProfile>;
  /**
   * The names tailscaled can get a TLS certificate for (HTTPS on in the admin console): this
   * node's MagicDNS name without its dot; empty when it cannot.
   */
  CertDomains: string[];
}

/** The parts of `GET /localapi/v0/whois?addr=IP:port` fossora uses. */
export interface TailscaleWhois {
  Node: {
    /** The numeric node ID as exact decimal text. */
    ID: string;
    /** The MagicDNS name with its trailing dot. */
    Name: string;
    /** The owner's user ID as exact decimal text. */
    User: string;
    /** Who shared this node into the tailnet, `"0"` for the tailnet's own machines. */
    Sharer: string;
    Tags: string[];
    /** The node's addresses as prefixes (`100.64.0.5/32`). */
    Addresses: string[];
    Hostinfo: { Hostname: string };
  };
  UserProfile: TailscaleUserProfile;
}

/** A JSON number kept as its source text (see {@link parseExactJson}). */
class JsonNumber {
  constructor(readonly source: string) {}
}

/**
 * JSON.parse, except that every number becomes a {@link JsonNumber} holding its exact text.
 * Throws SyntaxError on text that is not JSON.
 */
export function parseExactJson(text: string): unknown {
  return JSON.parse(
    text,
    (_key: string, value: unknown, context?: { source?: string }) =>
      typeof value === "number" ? new JsonNumber(context?.source ?? String(value)) : value,
  );
}

/** Reads one answer; `where` names the endpoint in errors. */
class Reader {
  constructor(readonly where: string) {}

  fail(path: string, expected: string): never {
    throw new TailscaleError(
      "bad_answer",
      `tailscaled's ${this.where} answer is malformed: ${path} is not ${expected}; ` +
        "check that --tailscale-socket names tailscaled's socket",
    );
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof JsonNumber) {
      this.fail(path, "an object");
    }
    return v as Record<string, unknown>;
  }

  string(v: unknown, path: string, absent?: string): string {
    if (v === undefined && absent !== undefined) return absent;
    if (typeof v !== "string") this.fail(path, "a string");
    return v;
  }

  boolean(v: unknown, path: string, absent?: boolean): boolean {
    if (v === undefined && absent !== undefined) return absent;
    if (typeof v !== "boolean") this.fail(path, "true or false");
    return v;
  }

  /** An integer ID; Go writes int64 as a bare number. */
  id(v: unknown, path: string, absent?: string): string {
    if (v === undefined && absent !== undefined) return absent;
    if (!(v instanceof JsonNumber) || !/^-?\d{1,20}$/.test(v.source)) this.fail(path, "an integer");
    return v.source;
  }

  /** A list of strings; Go writes a nil slice as null and omitempty drops it. */
  strings(v: unknown, path: string): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, "a list");
    return v.map((s, i) => this.string(s, `${path}[${i}]`));
  }

  /** A map as a Map, so that no key (`__proto__`) can reach an object's prototype. */
  map<T>(v: unknown, path: string, each: (value: unknown, path: string) => T): Map<string, T> {
    const out = new Map<string, T>();
    if (v === undefined || v === null) return out;
    for (const [k, value] of Object.entries(this.object(v, path))) {
      out.set(k, each(value, `${path}[${JSON.stringify(k)}]`));
    }
    return out;
  }

  user(v: unknown, path: string): TailscaleUserProfile {
    const o = this.object(v, path);
    return {
      ID: this.id(o.ID, `${path}.ID`),
      LoginName: this.string(o.LoginName, `${path}.LoginName`),
      DisplayName: this.string(o.DisplayName, `${path}.DisplayName`, ""),
    };
  }

  peer(v: unknown, path: string): TailscalePeerStatus {
    const o = this.object(v, path);
    return {
      ID: this.string(o.ID, `${path}.ID`, ""),
      HostName: this.string(o.HostName, `${path}.HostName`, ""),
      DNSName: this.string(o.DNSName, `${path}.DNSName`, ""),
      TailscaleIPs: this.strings(o.TailscaleIPs, `${path}.TailscaleIPs`),
      Tags: this.strings(o.Tags, `${path}.Tags`),
      Online: this.boolean(o.Online, `${path}.Online`, false),
      UserID: this.id(o.UserID, `${path}.UserID`, "0"),
      ShareeNode: this.boolean(o.ShareeNode, `${path}.ShareeNode`, false),
    };
  }
}

/** Reads a `/localapi/v0/status` answer (already parsed by {@link parseExactJson}). */
export function readStatus(json: unknown): TailscaleStatus {
  const r = new Reader("/localapi/v0/status");
  const o = r.object(json, "the answer");
  return {
    BackendState: r.string(o.BackendState, "BackendState"),
    TailscaleIPs: r.strings(o.TailscaleIPs, "TailscaleIPs"),
    Self: o.Self === undefined || o.Self === null ? undefined : r.peer(o.Self, "Self"),
    Peer: r.map(o.Peer, "Peer", (v, p) => r.peer(v, p)),
    User: r.map(o.User, "User", (v, p) => r.user(v, p)),
    CertDomains: r.strings(o.CertDomains, "CertDomains"),
  };
}

/** Reads a `/localapi/v0/whois` answer (already parsed by {@link parseExactJson}). */
export function readWhois(json: unknown): TailscaleWhois {
  const r = new Reader("/localapi/v0/whois");
  const o = r.object(json, "the answer");
  const n = r.object(o.Node, "Node");
  const hostinfo = n.Hostinfo === undefined ? {} : r.object(n.Hostinfo, "Node.Hostinfo");
  return {
    Node: {
      ID: r.id(n.ID, "Node.ID"),
      Name: r.string(n.Name, "Node.Name"),
      User: r.id(n.User, "Node.User"),
      Sharer: r.id(n.Sharer, "Node.Sharer", "0"),
      Tags: r.strings(n.Tags, "Node.Tags"),
      Addresses: r.strings(n.Addresses, "Node.Addresses"),
      Hostinfo: { Hostname: r.string(hostinfo.Hostname, "Node.Hostinfo.Hostname", "") },
    },
    UserProfile: r.user(o.UserProfile, "UserProfile"),
  };
}
