/**
 * Sessions of the web UI, good on every node: a cookie signed with a key every node derives from
 * the cluster's secret, so no node has to ask another whether a session exists. A session names
 * the password it was opened with (its epoch), so setting a new password ends every session.
 * CSRF tokens are derived from the session (or, before login, from a cookie of their own), so a
 * page of another site cannot post in the user's name.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Name of the session cookie. */
export const SESSION_COOKIE = "fossora_session";
/** Name of the cookie that ties a form to its browser before login. */
export const FORM_COOKIE = "fossora_form";
/** A session lasts a week from login. */
export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

/** Signs and checks session cookies and CSRF tokens. */
export class Sessions {
  readonly #key: Buffer;
  readonly #now: () => number;
  readonly #ttlMs: number;

  /** `secret` is shared by every node of the cluster and by nobody else. */
  constructor(secret: string, o: { now?: () => number; ttlMs?: number } = {}) {
    this.#key = createHmac("sha256", secret).update("fossora ui session key v1").digest();
    this.#now = o.now ?? Date.now;
    this.#ttlMs = o.ttlMs ?? SESSION_TTL_MS;
  }

  /** A new session's cookie value, tied to the password's `epoch`. */
  issue(epoch: string): string {
    const sid = randomBytes(16).toString("base64url");
    const exp = Math.floor((this.#now() + this.#ttlMs) / 1000);
    return `v1.${sid}.${exp}.${this.#sign(`v1.${sid}.${exp}.${epoch}`)}`;
  }

  /** The session of a cookie value when it is ours, unexpired and of this `epoch`. */
  check(cookie: string | undefined, epoch: string): { sid: string } | undefined {
    const parts = cookie?.split(".");
    if (!parts || parts.length !== 4 || parts[0] !== "v1") return undefined;
    const [, sid, exp, sig] = parts;
    if (!same(sig, this.#sign(`v1.${sid}.${exp}.${epoch}`))) return undefined;
    return Number(exp) * 1000 > this.#now() ? { sid } : undefined;
  }

  /** The CSRF token of a session (or of a form cookie before login). */
  csrf(sid: string): string {
    return this.#sign(`csrf.${sid}`);
  }

  /** True when `token` is the CSRF token of `sid`. */
  checkCsrf(sid: string, token: string | undefined): boolean {
    return token !== undefined && same(token, this.csrf(sid));
  }

  #sign(text: string): string {
    return createHmac("sha256", this.#key).update(text).digest("base64url");
  }
}

/** A fresh value for the form cookie. */
export function formNonce(): string {
  return randomBytes(16).toString("base64url");
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
