/**
 * The certificate the proxy serves on its HTTPS port: which names it must cover, when a new one is
 * due, and the loop that issues it. One certificate for `DOMAIN` and `*.DOMAIN` covers every
 * service name, so a new service is served over HTTPS the moment it exists, on every node, with
 * nothing to issue. It is kept in etcd (`certs/proxy`), so every node serves the same one; the
 * elected node that holds the CA key renews it a month before it expires.
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { ServingCert } from "../state/types.ts";
import { type Logger, silentLogger } from "../util/log.ts";

/** A certificate and its key, PEM. */
export interface KeyPair {
  certPem: string;
  keyPem: string;
}

/** How long an issued certificate is valid: short, since renewal is automatic. */
export const CERT_DAYS = 90;
/** A certificate this close to its end is replaced. */
export const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/**
 * Why `pair` cannot be served (unreadable, its key another's, expired), or undefined when it can.
 * A copy on disk may be cut short or stale; TLS would fail every handshake with it.
 */
export function keyPairProblem(pair: KeyPair, now = Date.now()): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.certPem);
  } catch {
    return "the certificate is not a readable PEM certificate";
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(pair.keyPem))) return "the key is another's";
  } catch {
    return "the key is not a readable PEM private key";
  }
  if (Date.parse(cert.validTo) <= now) return `the certificate expired on ${cert.validTo}`;
  return undefined;
}

/** The names the proxy's certificate covers: the domain, every name under it, and `extra`. */
export function wantedNames(domain: string, extra: readonly string[] = []): string[] {
  const d = domain.toLowerCase().replace(/^\.+|\.+$/g, "");
  return [...new Set([d, `*.${d}`, ...extra.map((n) => n.toLowerCase())])].sort();
}

/** Why a new certificate is due, or undefined when `current` will do. */
export function renewalReason(
  current: ServingCert | undefined,
  wanted: readonly string[],
  now: number,
): string | undefined {
  if (!current) return "there is none yet";
  if (current.names.join() !== wanted.join()) return "the names it must cover changed";
  const end = Date.parse(current.notAfter);
  if (!Number.isFinite(end)) return "its expiry date cannot be read";
  if (end - now < RENEW_BEFORE_MS) return "it expires within 30 days";
  return undefined;
}

/** What the issuer needs; every side effect comes in through here. */
export interface IssuerOptions {
  domain: string;
  /** The stored certificate, from the mirror. */
  current: () => ServingCert | undefined;
  /** True on the one node that should issue: elected, and holding the CA key. */
  canIssue: () => boolean;
  /** Makes a certificate from the cluster CA. */
  issue: (names: string[], days: number) => Promise<KeyPair>;
  /** Stores it unless someone else stored one since `previous` was read; false then. */
  store: (cert: ServingCert, previous: ServingCert | undefined) => Promise<boolean>;
  now?: () => number;
  log?: Logger;
  /** How often it checks without being poked, ms; default one hour. */
  everyMs?: number;
}

/** Issues and renews the proxy's certificate: one step at a time, retried on failure. */
export class CertIssuer {
  readonly #o: IssuerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(o: IssuerOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
  }

  /** Checks now and then every `everyMs`. */
  start(): void {
    this.#timer = setInterval(() => this.poke(), this.#o.everyMs ?? 3_600_000);
    this.poke();
  }

  /** Runs a step soon (coalesced); resolves when it ran. */
  poke(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const running = this.step().then(() => {}, (err) => {
      this.#log.warn("cannot issue the proxy's certificate; retrying within the hour", { err });
    }).finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        void this.poke();
      }
    });
    this.#running = running;
    return running;
  }

  /** One step: issues and stores a certificate when one is due and this node may. */
  async step(): Promise<"issued" | "current" | "not-issuer" | "lost"> {
    const current = this.#o.current();
    const names = wantedNames(this.#o.domain);
    const now = this.#now();
    const why = renewalReason(current, names, now);
    if (!why) return "current";
    if (!this.#o.canIssue()) return "not-issuer";
    const pair = await this.#o.issue(names, CERT_DAYS);
    const cert: ServingCert = {
      names,
      ...pair,
      notAfter: new Date(now + CERT_DAYS * 24 * 3600 * 1000).toISOString(),
      issuedAt: new Date(now).toISOString(),
    };
    if (!(await this.#o.store(cert, current))) return "lost";
    this.#log.info("issued the proxy's certificate", { why, names, notAfter: cert.notAfter });
    return "issued";
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
