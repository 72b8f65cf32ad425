/**
 * The HTTP API as a hono app: routes, the admin-token check, and one error shape for every
 * failure (`{ "error": { "code", "message", "details" } }`).
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { createLogger, type Logger } from "../util/log.ts";
import { requireToken } from "./auth.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./body.ts";
import { ApiError } from "./errors.ts";
import { registerApiMetrics } from "./metrics.ts";
import { addClusterRoutes } from "./routes/cluster.ts";
import { addJoinRoutes } from "./routes/join.ts";
import { addLogRoutes } from "./routes/service_logs.ts";
import { addServiceRoutes } from "./routes/services.ts";
import { addStackRoutes } from "./routes/stacks.ts";
import { addEventRoutes } from "./routes/events.ts";
import type { ApiDeps } from "./types.ts";

/**
 * Paths that answer without the admin token (join checks the join token itself; the CA
 * certificate is public by nature).
 */
const OPEN_PATHS = new Set([
  "/api/v1/health",
  "/api/v1/join",
  "/api/v1/join/info",
  "/api/v1/join/status",
  "/api/v1/ca.crt",
]);

/** Set on a read answered while this node cannot reach the cluster state (etcd). */
export const STALE_HEADER = "Fossora-Stale";
const STALE_NOTE = "this node cannot reach the cluster state (etcd): this is the last copy it " +
  "saw, and may be out of date";

/**
 * What another node may ask with the peer token: a replica's logs, and to leave (a person asked
 * it on another node's UI or CLI).
 */
const PEER_PATHS = /^\/api\/v1\/(services\/[^/]+\/logs|leave)$/;

/** Builds the API; registers its gauges in `deps.metrics`. */
export function createApi(deps: ApiDeps): Hono {
  const log = deps.logger ?? createLogger("api");
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  registerApiMetrics(deps.metrics, deps);

  const app = new Hono();
  app.use(methodNotAllowed({ app, onMethodNotAllowed: notAllowed }));
  const token = requireToken(deps.adminToken, OPEN_PATHS, {
    token: () => deps.peerToken?.(),
    paths: PEER_PATHS,
  });
  // The UI's pages check their own sessions; everything else needs the token, or the session
  // of a browser logged in to the UI (with its CSRF token on writes).
  app.use(async (c, next) => {
    if (deps.ui && isUiPath(c.req.path)) return await next();
    const session = deps.ui?.authorizes;
    if (session && !c.req.header("authorization") && await session(c.req.raw)) return await next();
    return await token(c, next);
  });
  app.use(async (c, next) => {
    await next();
    // What a read answers comes from this node's copy; without etcd it may be out of date.
    if (c.req.method === "GET" && c.res.ok && !deps.etcdHealthy()) {
      c.res.headers.set(STALE_HEADER, STALE_NOTE);
    }
  });
  addClusterRoutes(app, deps);
  addJoinRoutes(app, deps);
  addServiceRoutes(app, deps, maxBody);
  addStackRoutes(app, deps, maxBody);
  addLogRoutes(app, deps);
  addEventRoutes(app, deps);
  app.get("/api/v1/ui/setup-code", async (c) => {
    const code = await deps.uiSetupCode?.();
    if (code === undefined) throw new ApiError(404, "no_ui", "this node serves no web UI");
    if (code === null) {
      throw new ApiError(
        409,
        "password_set",
        "the web UI's admin password is set already: the setup code is only for the first run; " +
          "log in with the password",
      );
    }
    return c.json({ code });
  });
  if (deps.ui) app.route("/", deps.ui);
  app.notFound((c) =>
    new ApiError(
      404,
      "not_found",
      `no route ${c.req.method} ${c.req.path}; the API's routes are under /api/v1/`,
    ).toResponse()
  );
  app.onError((err, c) => toErrorResponse(err, c, log));
  return app;
}

/** Paths the web UI serves: all but the API's and the metrics. */
function isUiPath(path: string): boolean {
  return !path.startsWith("/api/") && path !== "/metrics";
}

function notAllowed(c: Context, methods: string[]): Response {
  const allow = methods.join(", ");
  return new ApiError(
    405,
    "method_not_allowed",
    `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`,
    [],
    { Allow: allow },
  ).toResponse();
}

/** Any failure as the API's JSON error; unexpected ones are logged and answered generically. */
function toErrorResponse(err: Error, c: Context, log: Logger): Response {
  if (err instanceof ApiError) return err.toResponse();
  if (err instanceof HTTPException && err.status < 500) {
    const code = err.status === 400 ? "bad_request" : "http_error";
    return new ApiError(err.status, code, err.message || "the request was refused").toResponse();
  }
  log.error("request failed", { method: c.req.method, path: c.req.path, error: err.stack ?? err });
  return new ApiError(
    500,
    "internal",
    "the agent failed to answer this request; its log has the details (journalctl -u fossora)",
  ).toResponse();
}
