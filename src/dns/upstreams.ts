/**
 * Which resolvers names outside the zone are forwarded to: `--dns-upstream`, or the node's own
 * (`/etc/resolv.conf`, followed when it changes), less any that would be this server itself.
 *
 * Loops are the danger: a fossora node's resolv.conf may list 127.0.0.1 or its own LAN address
 * (handed out by the router that points at the nodes), or systemd-resolved's stub 127.0.0.53,
 * whose own upstreams may be those. Addresses of our own listener, and other fossora nodes' DNS
 * servers (which forward too: two nodes would pass a query back and forth), are skipped; the stub is
 * replaced by the upstreams systemd-resolved itself uses (/run/systemd/resolve/resolv.conf),
 * which are then checked the same way. Each choice is logged with its reason.
 * @module
 */
import { ipv6Bytes } from "../util/ip.ts";
import type { Logger } from "../util/log.ts";
import { ipv4Bytes } from "./wire.ts";

/** One upstream resolver. */
export interface Upstream {
  /** An IP literal (IPv6 without brackets or scope). */
  host: string;
  port: number;
  /** `1.2.3.4:53` or `[fd00::1]:53`, for logs and metrics. */
  label: string;
}

/** The node's resolver list. */
export const RESOLV_CONF = "/etc/resolv.conf";
/** The upstreams systemd-resolved forwards to, which its stub hides. */
export const RESOLVED_CONF = "/run/systemd/resolve/resolv.conf";
/** systemd-resolved's stub listeners. */
const RESOLVED_STUBS = new Set(["127.0.0.53", "127.0.0.54"]);

/**
 * Reads `IP`, `IP:PORT`, `IPV6` or `[IPV6]:PORT` (port 53 when absent); throws with the reason.
 */
export function parseUpstream(text: string): Upstream {
  const s = text.trim();
  let host = s;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const v4port = /^([\d.]+):(\d{1,5})$/.exec(s);
  if (bracket) [host, port] = [bracket[1], bracket[2] ? Number(bracket[2]) : 53];
  else if (v4port) [host, port] = [v4port[1], Number(v4port[2])];
  const v6 = !ipv4Bytes(host) && ipv6Bytes(host) !== undefined;
  if ((!ipv4Bytes(host) && !v6) || port < 1 || port > 65535) {
    throw new Error(
      `expected IP or IP:PORT (e.g. 192.168.1.1, 192.168.1.1:5353, [fd00::1]:53), got "${text}"`,
    );
  }
  host = host.toLowerCase();
  return { host, port, label: v6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/**
 * The `nameserver` addresses of a resolv.conf, in order; link-local IPv6 ones with a `%scope`
 * and anything unreadable are left out (glibc would fail on them too).
 */
export function resolvConfServers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m || m[1].includes("%")) continue;
    if (ipv4Bytes(m[1]) || ipv6Bytes(m[1])) out.push(m[1]);
  }
  return out;
}

/** An upstream left out, and why. */
export interface Skipped {
  upstream: string;
  why: string;
}

/** The upstreams to use, and those skipped with their reasons. */
export interface Choice {
  use: Upstream[];
  skipped: Skipped[];
  /** Where the list came from, for the log. */
  source: string;
}

/**
 * Why forwarding to `host:port` would loop (it is this DNS server, or another fossora node's,
 * which forwards too), or undefined when it is a real upstream.
 */
export type LoopCheck = (host: string, port: number) => string | undefined;

/** Reads a file's text; undefined when it does not exist. */
export type ReadText = (path: string) => string | undefined;

/** Keeps the usable ones of `upstreams`, each once, skipping those that would loop. */
export function choose(upstreams: Upstream[], loops: LoopCheck, source: string): Choice {
  const use: Upstream[] = [];
  const skipped: Skipped[] = [];
  for (const u of upstreams) {
    if (use.some((o) => o.label === u.label)) continue;
    const why = loops(u.host, u.port);
    if (why) skipped.push({ upstream: u.label, why });
    else use.push(u);
  }
  return { use, skipped, source };
}

/** What resolv.conf names, before this server itself is taken out. */
export interface ResolvConf {
  list: Upstream[];
  skipped: Skipped[];
  source: string;
}

/**
 * The upstreams from the node's resolv.conf. A systemd-resolved stub is swapped for the servers
 * resolved uses, when its file says; else it stays, as it may be the only way out.
 */
export function fromResolvConf(read: ReadText): ResolvConf {
  const text = read(RESOLV_CONF);
  if (text === undefined) return { list: [], skipped: [], source: `${RESOLV_CONF} (missing)` };
  const servers = resolvConfServers(text);
  const skipped: Skipped[] = [];
  let list: string[] = servers;
  let source = RESOLV_CONF;
  if (servers.some((s) => RESOLVED_STUBS.has(s))) {
    const behind = resolvConfServers(read(RESOLVED_CONF) ?? "");
    if (behind.length) {
      list = [...servers.filter((s) => !RESOLVED_STUBS.has(s)), ...behind];
      source = `${RESOLV_CONF} and ${RESOLVED_CONF}`;
      for (const s of servers.filter((s) => RESOLVED_STUBS.has(s))) {
        skipped.push({
          upstream: `${s}:53`,
          why: `systemd-resolved's stub; using its upstreams from ${RESOLVED_CONF} instead`,
        });
      }
    }
  }
  return { list: list.map(parseUpstream), skipped, source };
}

/** Reads a file's text, undefined when it is missing; other errors are thrown. */
export function readTextOrUndefined(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** What {@link UpstreamList} needs. */
export interface UpstreamListOptions {
  /** `--dns-upstream`, read by {@link parseUpstream}; undefined follows resolv.conf. */
  given?: Upstream[];
  loops: LoopCheck;
  log: Logger;
  /** How often resolv.conf is looked at for changes, ms; default 5 000. */
  recheckMs?: number;
  read?: ReadText;
  /** A fingerprint of resolv.conf that changes when it does; default its mtime and size. */
  stamp?: () => string;
}

/** The current upstreams: fixed when given, else resolv.conf's, re-read when it changes. */
export class UpstreamList {
  readonly #o: UpstreamListOptions;
  #choice: Choice = { use: [], skipped: [], source: "" };
  #servers: ResolvConf = { list: [], skipped: [], source: "" };
  #said = "";
  #stamp = "";
  #timer?: ReturnType<typeof setInterval>;

  constructor(o: UpstreamListOptions) {
    this.#o = o;
  }

  /** The upstreams to ask, best first is the forwarder's business. */
  get current(): readonly Upstream[] {
    return this.#choice.use;
  }

  /**
   * Reads the list now and checks it again every few seconds: resolv.conf may change, and so may
   * this node's addresses, which decide what is "ourselves".
   */
  start(): void {
    this.refresh();
    this.#timer = setInterval(() => this.refresh(), this.#o.recheckMs ?? 5_000);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Reads the list again if its source changed (always, the first time); logs a change. */
  refresh(): void {
    const { given, loops, log } = this.#o;
    try {
      if (given) {
        this.#choice = choose(given, loops, "--dns-upstream");
      } else {
        const stamp = (this.#o.stamp ?? resolvConfStamp)();
        if (stamp !== this.#stamp || !this.#said) {
          this.#stamp = stamp;
          this.#servers = fromResolvConf(this.#o.read ?? readTextOrUndefined);
        }
        const { list, skipped, source } = this.#servers;
        const chosen = choose(list, loops, source);
        this.#choice = { ...chosen, skipped: [...skipped, ...chosen.skipped] };
      }
    } catch (e) {
      log.warn("dns: cannot read the upstream resolvers; keeping the last list", { error: e });
      return;
    }
    const c = this.#choice;
    const said = JSON.stringify([c.use.map((u) => u.label), c.skipped]);
    if (said === this.#said) return;
    this.#said = said;
    const fields = { from: c.source, upstreams: c.use.map((u) => u.label), skipped: c.skipped };
    if (c.use.length) log.info("dns: forwarding names outside the zone", fields);
    else {
      log.warn(
        "dns: no usable upstream resolver; names outside the zone are REFUSED (set --dns-upstream)",
        fields,
      );
    }
  }
}

/** resolv.conf's and systemd-resolved's file's mtime, size and inode; "" for a missing one. */
function resolvConfStamp(): string {
  return [RESOLV_CONF, RESOLVED_CONF].map((path) => {
    try {
      const s = Deno.statSync(path);
      return `${s.mtime?.getTime()}:${s.size}:${s.ino}`;
    } catch {
      return "";
    }
  }).join("|");
}
