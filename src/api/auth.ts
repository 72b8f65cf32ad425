/**
 * Bearer-token checks. Tokens are compared in constant time so the time an answer takes does not
 * tell an attacker how much of a guess was right.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

/** What a client without the right admin token is told. */
export const UNAUTHORIZED_MESSAGE =
  "this needs the admin token: send `Authorization: Bearer TOKEN` with the token in " +
  "DATA_DIR/admin-token on a node (default /var/lib/fossora/admin-token); `fossora` commands " +
  "run on a node as root read it themselves";

const encoder = new TextEncoder();

/** Compares two strings in time that depends only on `expected`'s length. */
export function timingSafeEqual(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? "");
  return m?.[1];
}

/** True when the header carries exactly `expected`; an empty `expected` matches nothing. */
export function isAuthorized(header: string | null | undefined, expected: string): boolean {
  const token = bearerToken(header);
  return expected !== "" && token !== undefined && timingSafeEqual(token, expected);
}

/** The 401 every refused request gets. */
export function unauthorized(message = UNAUTHORIZED_MESSAGE): ApiError {
  return new ApiError(401, "unauthorized", message, [], { "WWW-Authenticate": "Bearer" });
}

/** A second token, taken on some paths only (nodes asking each other). */
export interface PeerAccess {
  token(): string | undefined;
  paths: RegExp;
}

/**
 * Middleware that refuses requests without the admin token, except on `open` paths and, with
 * the peer token, on the peer's paths.
 */
export function requireToken(
  adminToken: string,
  open: Set<string>,
  peer?: PeerAccess,
): MiddlewareHandler {
  return async (c, next) => {
    if (open.has(c.req.path)) return await next();
    const header = c.req.header("authorization");
    if (isAuthorized(header, adminToken)) return await next();
    if (peer && peer.paths.test(c.req.path) && isAuthorized(header, peer.token() ?? "")) {
      return await next();
    }
    throw unauthorized();
  };
}
