/**
 * Join routes: `GET /api/v1/join/info` (open: which cluster this is, its CA's fingerprint, where
 * to send a request), `POST /api/v1/join` and `POST /api/v1/join/status` (the join token or the
 * tailnet vouches, checked by the desk; only over the API's TLS port).
 * @module
 */
import type { Context, Hono } from "hono";
import { JoinError } from "../../admission/desk.ts";
import { readLimitedBody } from "../body.ts";
import { ApiError } from "../errors.ts";
import type { ApiDeps } from "../types.ts";

/** A join request is small: a certificate request and a few fields. */
const MAX_JOIN_BODY = 32 * 1024;

/** Adds the join routes to `app`. */
export function addJoinRoutes(app: Hono, deps: ApiDeps): void {
  const desk = () => {
    const d = deps.join?.();
    if (!d) {
      throw new ApiError(
        503,
        "starting",
        "this node is not a cluster member yet (it is starting or joining); try another node",
      );
    }
    return d;
  };
  app.get("/api/v1/join/info", async (c) => c.json(await refusals(() => desk().info())));
  app.post("/api/v1/join", async (c) => {
    const body = await jsonBody(c);
    const peer = (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr?.hostname ?? "";
    const overTls = new URL(c.req.url).protocol === "https:";
    const answer = await refusals(() => desk().request(body, peer, overTls));
    return c.json(answer, answer.status === "queued" || answer.status === "pending" ? 202 : 200);
  });
  // Admin only (not an open path): a person lets a pending node in.
  app.post("/api/v1/nodes/:name/approve", async (c) => {
    const approved = await refusals(() => desk().approve(c.req.param("name"), deps.nodeName));
    return c.json({ approved });
  });
  app.post("/api/v1/join/status", async (c) => {
    const body = await jsonBody(c);
    return c.json(await refusals(() => desk().status(body)));
  });
}

async function jsonBody(c: Context): Promise<unknown> {
  const bytes = await readLimitedBody(c.req.raw, MAX_JOIN_BODY);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, "bad_request", "a join request is a JSON object; see SPEC.md");
  }
}

async function refusals<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof JoinError) {
      const headers: Record<string, string> = err.status === 401
        ? { "WWW-Authenticate": "Bearer" }
        : {};
      throw new ApiError(err.status, err.code, err.message, err.details, headers);
    }
    throw err;
  }
}
