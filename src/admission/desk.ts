/**
 * The join desk: what any member does with a join request. It checks the request, decides how
 * far to trust the joiner (the join token, a tailnet identity, or nobody yet: pending until a
 * person approves), and queues it in etcd, where the leader's loop takes it. Joiners poll it for
 * their turn; the answer names who is being admitted now, which is the leader's "admitting X"
 * broadcast of the seed: every queued joiner hears it, and resets its patience on each change.
 * @module
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { families } from "../state/keys.ts";
import type { Store } from "../state/store.ts";
import { isDnsLabel } from "../util/names.ts";
import { appendEvent, CURRENT } from "./leader.ts";
import { caFingerprint, parseJoinToken } from "./token.ts";
import type {
  AdmissionEvent,
  CurrentAdmission,
  JoinerFacts,
  Member,
  QueuedJoin,
  Role,
} from "./types.ts";

/** A refused join request: the HTTP status, a code and words that say what to do. */
export class JoinError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 503,
    readonly code: string,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

/** What a joiner sends: the facts about itself, its token if it has one, and its ticket. */
export interface JoinRequest extends JoinerFacts {
  token?: string;
  /** A secret of the joiner's choosing; status polls show it, so only the joiner learns its fate. */
  ticket: string;
}

/** What `GET /api/v1/join/info` tells anyone: enough to pick a cluster and check its CA. */
export interface JoinInfo {
  cluster: string;
  created: string;
  /** sha256 of the CA certificate, as join tokens carry it. */
  caHash: string;
  /** The API's TLS port, where join requests go. */
  tlsPort: number;
  node: string;
  /** No services deployed: a lone node with nothing to lose may give way to another cluster. */
  empty: boolean;
}

/** A joiner's state, as its polls are answered. */
export type JoinStatus =
  | {
    status: "queued" | "pending";
    /** Trusted requests ahead of this one. */
    position: number;
    /** Who is being admitted now, and at which step; null when nobody. */
    admitting: { name: string; step: string } | null;
    contacts: string[];
    message: string;
  }
  | {
    status: "admitted";
    role: Role;
    cert: string;
    ca: string;
    cluster: string;
    /** A voter's etcd `--initial-cluster`; absent for a worker. */
    initialCluster?: string;
    clientUrls: string[];
    contacts: string[];
  }
  /** Admission finished: it is a member (voter) or its record is live (worker). */
  | { status: "member"; role: Role; contacts: string[] };

/** What the desk needs from the agent. */
export interface JoinDeskOptions {
  /** The store, or a JoinError(503) while etcd is not reachable. */
  store: () => Store;
  nodeName: string;
  tlsPort: number;
  clusterInfo: () => Promise<{ id: string; createdAt: string }>;
  caCertPem: () => string;
  joinToken: () => Promise<string | undefined>;
  /** Whether the tailnet vouches for the address a request came from. */
  tailnetTrust?: (address: string) => Promise<{ trusted: boolean; why: string }>;
  members: () => Promise<Member[]>;
  liveNodes: () => ReadonlySet<string>;
  /** The live nodes' names, with their ids: a name is one node's at a time. */
  liveNames?: () => ReadonlyMap<string, string>;
  /** API URLs of the cluster's nodes, for a joiner whose contact dies. */
  contacts: () => string[];
  /** No services are deployed. */
  empty: () => boolean;
  /** Tells the local leader loop (if this node leads) that the queue changed. */
  poke?: () => void;
  now?: () => number;
  /** Most requests waiting for approval at once; default 64. */
  maxPending?: number;
}

/** Receives join requests and answers polls. */
export class JoinDesk {
  readonly #o: JoinDeskOptions;
  readonly #now: () => number;

  constructor(o: JoinDeskOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  async info(): Promise<JoinInfo> {
    const c = await this.#o.clusterInfo();
    return {
      cluster: c.id,
      created: c.createdAt,
      caHash: caFingerprint(this.#o.caCertPem()),
      tlsPort: this.#o.tlsPort,
      node: this.#o.nodeName,
      empty: this.#o.empty(),
    };
  }

  /**
   * Queues a request that came from `from` (the peer's address); `overTls` must be true, since the
   * token's secret must never have crossed the network in clear.
   */
  async request(body: unknown, from: string, overTls: boolean): Promise<JoinStatus> {
    if (!overTls) {
      throw new JoinError(
        400,
        "tls_required",
        `join requests go to the API's TLS port (${this.#o.tlsPort}), so the token never ` +
          "crosses the network in clear; fossora agents do this themselves",
      );
    }
    const r = parseJoinRequest(body);
    const { trust, why } = await this.#trust(r, from);
    const holder = this.#o.liveNames?.().get(r.name);
    if (holder && holder !== r.id) {
      throw new JoinError(
        409,
        "name_taken",
        `a running node is named ${r.name} already: start this machine with another --name, ` +
          "or stop that node first (a reinstalled machine takes over its old name once the old " +
          "node is down)",
      );
    }
    const store = this.#o.store();
    const now = this.#now();
    const old = await store.get<QueuedJoin>(families.admission, "queue", r.id);
    if (!old && trust === "pending") {
      const waiting = (await store.list<QueuedJoin>(families.admission, "queue"))
        .filter((q) => q.value.trust === "pending").length;
      if (waiting >= (this.#o.maxPending ?? 64)) {
        throw new JoinError(
          429,
          "too_many_pending",
          "too many nodes wait for approval; approve or refuse them (fossora nodes) first",
        );
      }
    }
    const kept = old?.value;
    const { token: _token, ticket, ...facts } = r;
    const entry: QueuedJoin = {
      ...facts satisfies JoinerFacts,
      ticketHash: sha256(ticket),
      // An approval, once given, stays; a request asked again keeps its place.
      trust: kept?.trust === "approved" && trust === "pending" ? "approved" : trust,
      trustWhy: kept?.trust === "approved" && trust === "pending" ? kept.trustWhy : why,
      queuedAt: kept?.queuedAt ?? now,
      seenAt: now,
    };
    await store.put(families.admission, ["queue", r.id], entry);
    if (!kept) {
      await this.#event(entry, entry.trust === "pending" ? "pending" : "queued", entry.trustWhy);
    }
    this.#o.poke?.();
    return await this.#statusOf(r.id, r.ticket);
  }

  /** Lets in the node named `name` that waits for approval; returns its name. */
  async approve(name: string, by: string): Promise<string> {
    const store = this.#o.store();
    const waiting = (await store.list<QueuedJoin>(families.admission, "queue"))
      .filter((q) => q.value.name === name && q.value.trust === "pending");
    if (waiting.length === 0) {
      throw new JoinError(
        404,
        "not_pending",
        `no node named ${JSON.stringify(name)} waits for approval; see fossora nodes --history`,
      );
    }
    for (const q of waiting) {
      const approved = { ...q.value, trust: "approved" as const, trustWhy: `approved on ${by}` };
      if (!await store.putIf(families.admission, ["queue", q.value.id], q.modRevision, approved)) {
        throw new JoinError(503, "busy", "the request changed meanwhile; approve it again");
      }
    }
    for (const q of waiting) await this.#event(q.value, "approved", `on ${by}`);
    this.#o.poke?.();
    return name;
  }

  async #event(j: QueuedJoin, event: AdmissionEvent["event"], detail: string): Promise<void> {
    await appendEvent(this.#o.store(), {
      at: this.#now(),
      id: j.id,
      name: j.name,
      event,
      detail: `${detail} (from ${j.address})`,
      by: this.#o.nodeName,
    });
  }

  /** A joiner's poll: `{ id, ticket }`. */
  async status(body: unknown): Promise<JoinStatus> {
    const b = body as { id?: unknown; ticket?: unknown } | null;
    if (typeof b?.id !== "string" || typeof b?.ticket !== "string") {
      throw new JoinError(400, "bad_request", 'a status poll is JSON: {"id": "…", "ticket": "…"}');
    }
    return await this.#statusOf(b.id, b.ticket);
  }

  async #statusOf(id: string, ticket: string): Promise<JoinStatus> {
    const store = this.#o.store();
    const contacts = this.#o.contacts();
    const [current, queue] = await Promise.all([
      store.get<CurrentAdmission>(families.admission, ...CURRENT),
      store.list<QueuedJoin>(families.admission, "queue"),
    ]);
    const mine = queue.find((q) => q.value.id === id)?.value;
    const c = current?.value;
    if (mine && !timingSafeHexEqual(mine.ticketHash, sha256(ticket))) {
      throw new JoinError(403, "wrong_ticket", "this is not the request you sent; send it again");
    }
    if (c && c.id === id && mine && (c.step === "learner" || c.step === "issued")) {
      const info = await this.#o.clusterInfo();
      return {
        status: "admitted",
        role: c.role,
        cert: c.cert,
        ca: this.#o.caCertPem(),
        cluster: info.id,
        initialCluster: c.initialCluster,
        clientUrls: c.clientUrls,
        contacts,
      };
    }
    if (mine) {
      const ahead = queue.filter((q) =>
        q.value.trust !== "pending" && q.value.id !== id &&
        (q.value.queuedAt < mine.queuedAt ||
          (q.value.queuedAt === mine.queuedAt && q.value.id < id))
      ).length;
      const pending = mine.trust === "pending";
      return {
        status: pending ? "pending" : "queued",
        position: ahead,
        admitting: c ? { name: c.name, step: c.step } : null,
        contacts,
        message: pending
          ? `waiting for a person to approve ${mine.name}: fossora nodes approve ${mine.name}` +
            " on a cluster node (or start this node with --token)"
          : ahead
          ? `${ahead} node(s) ahead in the queue`
          : "next in the queue",
      };
    }
    const member = (await this.#o.members()).find((m) => m.name === id);
    if (member && !member.isLearner) return { status: "member", role: "voter", contacts };
    if (this.#o.liveNodes().has(id)) return { status: "member", role: "worker", contacts };
    throw new JoinError(404, "not_queued", "no request of this node is queued; send it again");
  }

  async #trust(r: JoinRequest, from: string): Promise<{ trust: QueuedJoin["trust"]; why: string }> {
    if (r.token !== undefined) {
      const given = parseJoinToken(r.token);
      if (typeof given === "string") throw new JoinError(401, "bad_token", given);
      const expected = await this.#o.joinToken();
      const want = expected ? parseJoinToken(expected) : undefined;
      if (
        !want || typeof want === "string" || given.caHash !== want.caHash ||
        !timingSafeHexEqual(sha256(given.secret), sha256(want.secret))
      ) {
        throw new JoinError(
          403,
          "wrong_token",
          "the join token is not this cluster's: get it with `fossora token` on a node of the " +
            "cluster and start the joining agent with --token",
        );
      }
      return { trust: "token", why: "the join token" };
    }
    const tailnet = await this.#o.tailnetTrust?.(from).catch(() => undefined);
    if (tailnet?.trusted) return { trust: "tailnet", why: tailnet.why };
    return { trust: "pending", why: tailnet?.why ?? "no token; waiting for approval" };
  }
}

/** Checks every field of a join request; all problems at once, by field. */
export function parseJoinRequest(body: unknown): JoinRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  const str = (k: string, max: number, ok: (v: string) => boolean, what: string) => {
    const v = b[k];
    if (typeof v !== "string" || v.length > max || !ok(v)) {
      problems.push(`${k}: ${what}`);
      return "";
    }
    return v;
  };
  const port = (k: string) => {
    const v = b[k];
    if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) {
      problems.push(`${k}: a port, 1..65535`);
      return 0;
    }
    return v as number;
  };
  const r: JoinRequest = {
    ticket: str("ticket", 128, (v) => /^[A-Za-z0-9_-]{20,}$/.test(v), "20+ URL-safe characters"),
    id: str("id", 64, (v) => /^[a-z0-9][a-z0-9-]*$/.test(v), "the node id (lowercase hex)"),
    name: str("name", 63, isDnsLabel, "the node name, a DNS label"),
    address: str("address", 64, (v) => isIP(v) !== 0, "the node's IP address"),
    apiPort: port("apiPort"),
    etcdPeerPort: port("etcdPeerPort"),
    etcdClientPort: port("etcdClientPort"),
    arch: str("arch", 16, (v) => /^[a-z0-9]+$/.test(v), "amd64 or arm64"),
    site: str("site", 63, isDnsLabel, "a site name, a DNS label"),
    version: str("version", 64, (v) => /^[\x21-\x7e]+$/.test(v), "the agent's version"),
    csr: str(
      "csr",
      16_384,
      (v) => v.includes("-----BEGIN CERTIFICATE REQUEST-----"),
      "a PEM certificate request",
    ),
  };
  if (b.token !== undefined) {
    r.token = str("token", 256, () => true, "the join token, a string");
  }
  if (problems.length) {
    throw new JoinError(400, "bad_join_request", "the join request is malformed", problems);
  }
  return r;
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function timingSafeHexEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
