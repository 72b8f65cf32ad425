/**
 * mDNS/DNS-SD discovery: this node announces itself as `NAME._fossora._tcp.local` and browses
 * for the other agents on its link, keeping a bounded table of candidates (address, API port,
 * node id, cluster id) for the joiner. It only finds addresses; trust comes from the join
 * protocol. The socket is `npm:multicast-dns` on UDP 5353, joined to 224.0.0.251 on the interface
 * of one address only (the advertise address unless told otherwise), and multicast leaves by that
 * interface, so a node with several links announces where its address is reachable.
 *
 * Announces twice (1 s apart) at start and whenever the cluster id changes; answers queries for
 * its names at most once a second; queries at start and then after 1, 2, 4 ... 60 s, and every
 * 60 s from then on (our records live 120 s, so a live node is always refreshed); says goodbye
 * (TTL 0) on stop. A one-shot query from another port (`dig -p 5353 @NODE _fossora._tcp.local
 * PTR`) is answered to its sender alone, at most ten a second.
 * @module
 */
import makeMdns from "multicast-dns";
import { Backoff } from "../util/backoff.ts";
import type { Logger } from "../util/log.ts";
import {
  type Announcement,
  announcementPacket,
  asksFor,
  browseQuery,
  checkAnnouncement,
  DEFAULT_TTL_SECONDS,
  isClusterId,
  isUsableIPv4,
  legacyAnswer,
  MDNS_PORT,
  type OutPacket,
  parseResponse,
} from "./mdns_records.ts";
import {
  type CandidateChange,
  CandidateTable,
  DEFAULT_MAX_CANDIDATES,
  type MdnsCandidate,
} from "./mdns_table.ts";

export type { CandidateChange, MdnsCandidate } from "./mdns_table.ts";

/** Where a packet came from. */
export interface PacketSource {
  address: string;
  port: number;
}

/** The socket, as the discovery uses it: send a packet to the group (or to one sender), close. */
export interface MdnsTransport {
  send(packet: OutPacket, to?: PacketSource): Promise<void>;
  close(): Promise<void>;
}

/** What opening a transport is told. */
export interface TransportOptions {
  /** IPv4 address of the interface to join the group on and send from. */
  interfaceAddress: string;
  /** A packet as `dns-packet` decoded it: hostile, read with care. */
  onPacket(packet: unknown, from: PacketSource): void;
  /** A socket problem that does not stop it (an undecodable packet, a failed membership). */
  onWarning(error: Error): void;
  /** The group was joined on the interface after all (its address came late, as at boot). */
  onInterfaceUp?(): void;
}

/** Opens the socket; rejects when UDP 5353 cannot be bound. */
export type OpenTransport = (options: TransportOptions) => Promise<MdnsTransport>;

/** Time, for expiry and pacing; tests pass a manual one. */
export interface MdnsClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: MdnsClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
};

/** Options of {@link MdnsDiscovery}. */
export interface MdnsDiscoveryOptions {
  /** Node name (`--name`), a DNS label. */
  name: string;
  /** Node id (16 hex characters, from the identity). */
  id: string;
  /** `--advertise-addr`: the A record other nodes get. */
  advertiseAddress: string;
  /** `--api-port`: the SRV port, where joiners go. */
  apiPort: number;
  /** The cluster id, once this node has one; change it later with `setClusterId`. */
  clusterId?: string;
  /**
   * IPv4 address of the interface to announce and browse on; defaults to `advertiseAddress`.
   * Set it to the LAN address when the advertise address is on a link without multicast (a
   * Tailscale address).
   */
  interfaceAddress?: string;
  /** Told of every change of the candidate table (also see `subscribe`). */
  onChange?: (change: CandidateChange) => void;
  /** Stops the discovery when aborted. */
  signal?: AbortSignal;
  log?: Logger;
  /** TTL of our records, seconds (default 120). */
  ttlSeconds?: number;
  /** Most candidates kept (default 256). */
  maxCandidates?: number;
  /** Browse query pacing (default 1 s doubling to 60 s). */
  queryBackoff?: { initialMs: number; maxMs: number };
  /** Tests: the socket and the clock. */
  transport?: OpenTransport;
  clock?: MdnsClock;
}

/** Counters, for tests and metrics. */
export interface MdnsStats {
  packets: number;
  /** Queries answered on the group. */
  queriesAnswered: number;
  /** One-shot queries (`dig -p 5353 @NODE`) answered to their sender. */
  legacyAnswered: number;
  /** Records or packets skipped as malformed or out of bounds. */
  rejected: number;
  /** New nodes refused because the table was full. */
  refused: number;
}

/** An error in the options, saying what to set. */
export class MdnsConfigError extends Error {
  override name = "MdnsConfigError";
}

const ANNOUNCE_REPEAT_MS = 1000;
const RESPONSE_INTERVAL_MS = 1000;
const WARN_INTERVAL_MS = 60_000;
/** One-shot answers go to whoever asks, so they are few: at most this many a second. */
const LEGACY_PER_SECOND = 10;

/**
 * Announces this node and browses for others over mDNS.
 * @example
 * const d = new MdnsDiscovery({ name: "pi1", id, advertiseAddress: "192.168.1.5", apiPort: 7440 });
 * d.subscribe((c) => c.kind === "added" && tryJoin(c.candidate.address, c.candidate.apiPort));
 * await d.start();
 * d.setClusterId(clusterId); // after joining: others see the new TXT at once
 * await d.stop(); // goodbye
 */
export class MdnsDiscovery {
  readonly #me: Announcement;
  readonly #interfaceAddress: string;
  readonly #ttl: number;
  readonly #table: CandidateTable;
  readonly #clock: MdnsClock;
  readonly #open: OpenTransport;
  readonly #log?: Logger;
  readonly #backoff: Backoff;
  readonly #listeners = new Set<(change: CandidateChange) => void>();
  readonly #signal?: AbortSignal;
  #transport?: MdnsTransport;
  #state: "new" | "starting" | "running" | "stopped" = "new";
  #stopping?: Promise<void>;
  #queryTimer?: unknown;
  #expiryTimer?: unknown;
  #expiryAt?: number;
  #announceTimer?: unknown;
  #responseTimer?: unknown;
  #lastResponseAt = -Infinity;
  #lastWarnAt = -Infinity;
  #unwarned = 0;
  #lastReason = "";
  #legacySecond = -Infinity;
  #legacyCount = 0;
  readonly #stats: MdnsStats = {
    packets: 0,
    queriesAnswered: 0,
    legacyAnswered: 0,
    rejected: 0,
    refused: 0,
  };
  readonly #onAbort = () => void this.stop();

  constructor(options: MdnsDiscoveryOptions) {
    const me: Announcement = {
      name: options.name,
      id: options.id,
      address: options.advertiseAddress,
      apiPort: options.apiPort,
    };
    if (options.clusterId !== undefined && options.clusterId !== "") {
      me.clusterId = options.clusterId;
    }
    const problem = checkAnnouncement(me);
    if (problem) throw new MdnsConfigError(`mdns: ${problem}`);
    const iface = options.interfaceAddress ?? options.advertiseAddress;
    if (!isUsableIPv4(iface)) {
      throw new MdnsConfigError(
        `mdns: interface address ${
          JSON.stringify(iface)
        } is not an IPv4 address of this machine's LAN interface`,
      );
    }
    const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 4500) {
      throw new MdnsConfigError(`mdns: ttlSeconds ${ttl} must be an integer in 1..4500`);
    }
    const backoff = options.queryBackoff ?? { initialMs: 1000, maxMs: 60_000 };
    if (!(backoff.initialMs > 0) || !(backoff.maxMs >= backoff.initialMs)) {
      throw new MdnsConfigError("mdns: queryBackoff needs 0 < initialMs <= maxMs");
    }
    this.#me = me;
    this.#interfaceAddress = iface;
    this.#ttl = ttl;
    this.#table = new CandidateTable(options.maxCandidates ?? DEFAULT_MAX_CANDIDATES);
    this.#clock = options.clock ?? systemClock;
    this.#open = options.transport ?? openMulticastDns;
    this.#log = options.log;
    this.#backoff = new Backoff(backoff);
    if (options.onChange) this.#listeners.add(options.onChange);
    this.#signal = options.signal;
  }

  /**
   * Opens the socket, announces and starts browsing. Rejects when UDP 5353 cannot be bound; the
   * discovery is then stopped.
   */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error("mdns: discovery already started");
    if (this.#signal?.aborted) {
      this.#state = "stopped";
      return;
    }
    this.#state = "starting";
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    let transport: MdnsTransport;
    try {
      transport = await this.#open({
        interfaceAddress: this.#interfaceAddress,
        onPacket: (p, from) => this.#receive(p, from),
        onWarning: (e) => this.#reject(`socket: ${e.message}`),
        onInterfaceUp: () => this.#interfaceUp(),
      });
    } catch (e) {
      this.#state = "stopped";
      this.#signal?.removeEventListener("abort", this.#onAbort);
      throw e;
    }
    this.#transport = transport;
    if (this.#state !== "starting") { // stopped while opening
      await transport.close().catch(() => {});
      return;
    }
    this.#state = "running";
    this.#log?.info("mdns: announcing and browsing", {
      name: this.#me.name,
      address: this.#me.address,
      interface: this.#interfaceAddress,
      apiPort: this.#me.apiPort,
    });
    this.#announceTwice();
    this.#query();
  }

  /** Says goodbye (TTL 0), closes the socket and forgets the candidates. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const wasRunning = this.#state === "running";
    this.#state = "stopped";
    this.#signal?.removeEventListener("abort", this.#onAbort);
    for (
      const t of [this.#queryTimer, this.#expiryTimer, this.#announceTimer, this.#responseTimer]
    ) {
      if (t !== undefined) this.#clock.clearTimeout(t);
    }
    this.#table.clear();
    const transport = this.#transport;
    if (!transport) return;
    if (wasRunning) {
      await transport.send(announcementPacket(this.#me, 0)).catch((e) =>
        this.#log?.warn("mdns: goodbye not sent", { error: e })
      );
    }
    await transport.close().catch(() => {});
  }

  /**
   * Sets this node's cluster id (undefined or "" for none); when it changed, announces the new
   * TXT twice, so browsers see at once that this node now belongs to a cluster.
   */
  setClusterId(clusterId: string | undefined): void {
    const next = clusterId === "" ? undefined : clusterId;
    if (next !== undefined && !isClusterId(next)) {
      throw new MdnsConfigError(`mdns: cluster id ${JSON.stringify(next)} is not a cluster id`);
    }
    if (next === this.#me.clusterId) return;
    if (next === undefined) delete this.#me.clusterId;
    else this.#me.clusterId = next;
    if (this.#state === "running") this.#announceTwice();
  }

  /** The nodes found so far, by name: addresses to try the join protocol on. */
  candidates(): MdnsCandidate[] {
    return this.#table.list();
  }

  /** Calls `listener` on every change of the candidates; returns the unsubscribe function. */
  subscribe(listener: (change: CandidateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Counters since start. */
  stats(): MdnsStats {
    return { ...this.#stats, refused: this.#table.refused };
  }

  #receive(packet: unknown, from: PacketSource): void {
    // Runs inside the socket's event handler: a throw here would end the process.
    try {
      if (this.#state !== "running") return;
      this.#stats.packets++;
      if (from.port !== MDNS_PORT) {
        const reply = legacyAnswer(packet, this.#me, this.#ttl);
        if (reply) {
          this.#answerLegacy(reply, from);
          return;
        }
      }
      if (asksFor(packet, this.#me)) {
        this.#answer();
        return;
      }
      const parsed = parseResponse(packet);
      const now = this.#clock.now();
      const changes: CandidateChange[] = [];
      for (const g of parsed.goodbyes) {
        if (g.id === this.#me.id) continue;
        changes.push(...this.#table.goodbye(g));
      }
      for (const s of parsed.sightings) {
        if (s.id === this.#me.id) continue; // our own announcement, looped back
        const refusedBefore = this.#table.refused;
        const c = this.#table.see(s, now);
        if (c) changes.push(c);
        if (this.#table.refused > refusedBefore) {
          this.#reject(`table full (${this.#table.limit}): ${s.name} from ${from.address}`);
        }
      }
      for (const r of parsed.rejected) this.#reject(`${r} (from ${from.address})`);
      this.#publish(changes);
      this.#scheduleExpiry();
    } catch (e) {
      this.#reject(`packet from ${from?.address}: ${e instanceof Error ? e.message : e}`);
    }
  }

  /** Answers a query, at most once a second: a burst of queries gets one answer. */
  #answer(): void {
    if (this.#responseTimer !== undefined) return;
    const wait = this.#lastResponseAt + RESPONSE_INTERVAL_MS - this.#clock.now();
    if (wait <= 0) {
      this.#stats.queriesAnswered++;
      this.#sendAnnouncement();
      return;
    }
    const askedAt = this.#clock.now();
    this.#responseTimer = this.#clock.setTimeout(() => {
      this.#responseTimer = undefined;
      // An announcement sent after the query came (the second of a pair) answered it already.
      if (this.#state !== "running" || this.#lastResponseAt > askedAt) return;
      this.#stats.queriesAnswered++;
      this.#sendAnnouncement();
    }, wait);
  }

  #answerLegacy(reply: OutPacket, to: PacketSource): void {
    const second = Math.floor(this.#clock.now() / 1000);
    if (second !== this.#legacySecond) {
      this.#legacySecond = second;
      this.#legacyCount = 0;
    }
    if (++this.#legacyCount > LEGACY_PER_SECOND) return;
    this.#stats.legacyAnswered++;
    this.#send(reply, { address: to.address, port: to.port });
  }

  /** What was sent before the interface had its address went nowhere: start over. */
  #interfaceUp(): void {
    if (this.#state !== "running") return;
    this.#log?.info("mdns: interface up, announcing", { interface: this.#interfaceAddress });
    this.#announceTwice();
    if (this.#queryTimer !== undefined) this.#clock.clearTimeout(this.#queryTimer);
    this.#backoff.reset();
    this.#query();
  }

  #announceTwice(): void {
    if (this.#announceTimer !== undefined) this.#clock.clearTimeout(this.#announceTimer);
    this.#sendAnnouncement();
    this.#announceTimer = this.#clock.setTimeout(() => {
      this.#announceTimer = undefined;
      if (this.#state === "running") this.#sendAnnouncement();
    }, ANNOUNCE_REPEAT_MS);
  }

  #sendAnnouncement(): void {
    this.#lastResponseAt = this.#clock.now();
    this.#send(announcementPacket(this.#me, this.#ttl));
  }

  #query(): void {
    this.#queryTimer = undefined;
    if (this.#state !== "running") return;
    this.#send(browseQuery());
    const delay = this.#backoff.next(this.#clock.now());
    this.#queryTimer = this.#clock.setTimeout(() => this.#query(), delay);
  }

  #send(packet: OutPacket, to?: PacketSource): void {
    this.#transport?.send(packet, to).catch((e) =>
      this.#reject(`send: ${e instanceof Error ? e.message : e}`)
    );
  }

  /** Keeps one timer, at the earliest expiry. */
  #scheduleExpiry(): void {
    const next = this.#table.nextExpiry();
    if (next === this.#expiryAt) return;
    if (this.#expiryTimer !== undefined) this.#clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = next;
    if (next === undefined || this.#state !== "running") return;
    this.#expiryTimer = this.#clock.setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryAt = undefined;
      if (this.#state !== "running") return;
      this.#publish(this.#table.expire(this.#clock.now()));
      this.#scheduleExpiry();
    }, Math.max(0, next - this.#clock.now()));
  }

  #publish(changes: CandidateChange[]): void {
    for (const change of changes) {
      const c = change.candidate;
      const fields = {
        name: c.name,
        id: c.id,
        address: c.address,
        apiPort: c.apiPort,
        cluster: c.clusterId,
      };
      if (change.kind === "updated") this.#log?.debug("mdns: node changed", fields);
      else this.#log?.info(`mdns: node ${change.kind === "added" ? "found" : "gone"}`, fields);
      for (const listener of this.#listeners) {
        try {
          listener(change);
        } catch (e) {
          this.#log?.error("mdns: change listener failed", { error: e });
        }
      }
    }
  }

  /** Counts a skipped packet or record; warns at most once a minute, with an example. */
  #reject(reason: string): void {
    this.#stats.rejected++;
    this.#unwarned++;
    this.#lastReason = reason;
    const now = this.#clock.now();
    if (now - this.#lastWarnAt < WARN_INTERVAL_MS) return;
    this.#log?.warn("mdns: ignored bad packets or records, or a socket error", {
      count: this.#unwarned,
      last: this.#lastReason.slice(0, 200),
    });
    this.#lastWarnAt = now;
    this.#unwarned = 0;
  }
}

/**
 * The real socket: `multicast-dns` on 0.0.0.0:5353 (shared with avahi through SO_REUSEADDR),
 * member of 224.0.0.251 on the interface of `interfaceAddress` only, multicast sent out of it
 * with TTL 255 and looped back (two agents on one host see each other).
 */
export function openMulticastDns(options: TransportOptions): Promise<MdnsTransport> {
  return new Promise((resolve, reject) => {
    let m: ReturnType<typeof makeMdns>;
    try {
      m = makeMdns({
        interface: options.interfaceAddress,
        bind: "0.0.0.0",
        reuseAddr: true,
        loopback: true,
        ttl: 255,
      });
    } catch (e) {
      reject(e);
      return;
    }
    const closed = () => new Promise<void>((r) => m.destroy(() => r()));
    const failed = (e: Error) => {
      closed().finally(() =>
        reject(
          new Error(
            `mdns: cannot listen on UDP port 5353 (${e.message}); another program holds it without sharing, stop it or leave mdns out of --discovery`,
          ),
        )
      );
    };
    if (!hasAddress(options.interfaceAddress)) {
      // multicast-dns retries the membership every 5 s, so this heals when the address comes.
      options.onWarning(
        new Error(
          `interface address ${options.interfaceAddress} is not on this machine (yet); mDNS waits for it. If it never comes, set --advertise-addr to a LAN address`,
        ),
      );
    }
    m.once("error", failed);
    m.on("warning", (e: Error) => options.onWarning(e));
    // Emitted when a membership succeeds: first while binding, later when a late address came.
    m.on("networkInterface", () => options.onInterfaceUp?.());
    m.on("packet", (packet: unknown, rinfo: { address: string; port: number }) => {
      options.onPacket(packet, { address: rinfo.address, port: rinfo.port });
    });
    m.once("ready", () => {
      m.off("error", failed);
      m.on("error", (e: Error) => options.onWarning(e));
      resolve({
        send: (packet, to) =>
          new Promise<void>((res, rej) => {
            const done = (err: Error | null) => (err ? rej(err) : res());
            // deno-lint-ignore no-explicit-any
            const p = packet as any;
            if (packet.type === "query") m.query(p, done);
            else if (to) m.respond(p, { address: to.address, port: to.port }, done);
            else m.respond(p, done);
          }),
        close: closed,
      });
    });
  });
}

function hasAddress(address: string): boolean {
  try {
    return Deno.networkInterfaces().some((i) => i.family === "IPv4" && i.address === address);
  } catch {
    return true; // no permission to look: let the socket find out
  }
}
