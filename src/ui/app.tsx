/**
 * The web UI's routes: first run (setup code, admin password), login and logout, and the pages
 * behind them. Every form carries a CSRF token and is refused without it; pages without a session
 * send the browser to the login page.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createHash } from "node:crypto";
import { silentLogger } from "../util/log.ts";
import { UI_SCRIPT } from "./assets.ts";
import { addCatalogPages } from "./catalog_pages.tsx";
import { type AdminRecord, callApi, type Signed, type UiContext, type UiDeps } from "./context.ts";
import { addDeployPages } from "./deploy.tsx";
import { Layout, type Section } from "./layout.tsx";
import { liveRegion, SSE_HEADERS } from "./live.ts";
import { addNodePages } from "./nodes.tsx";
import { addOverviewRoutes } from "./overview.tsx";
import { LoginPage, MessagePage, SetupPage, TrustPage } from "./pages.tsx";
import {
  BusyError,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  passwordProblem,
  verifyPassword,
} from "./password.ts";
import { readLimitedBody } from "../api/body.ts";
import { addServicePages } from "./services.tsx";
import { FORM_COOKIE, formNonce, SESSION_COOKIE, SESSION_TTL_MS, Sessions } from "./session.ts";
import { isSetupCode, setupCode } from "./setup_code.ts";
import { LoginThrottle } from "./throttle.ts";
import { saferUrl } from "./transport.ts";

export type { AdminRecord, AdminStore, UiDeps } from "./context.ts";

/** How long the admin record read last is used before it is read again. */
const ADMIN_FRESH_MS = 5000;

/** Longest form body taken by default: a password and two tokens, or a setting or two. */
const MAX_FORM_BYTES = 8 * 1024;

/** The UI's app, and the check the API makes of a browser's session. */
export type UiApp = Hono & {
  /**
   * True when the request carries a live session of this UI, and for a request that changes
   * something also its CSRF token in `X-CSRF-Token`: the API takes it as it takes the token.
   */
  authorizes(req: Request): Promise<boolean>;
};

/** Builds the UI's hono app. */
export function createUi(deps: UiDeps): UiApp {
  const log = deps.log ?? silentLogger;
  const now = deps.now ?? Date.now;
  const throttle = new LoginThrottle({ now });
  let sessions: { secret: string; sessions: Sessions } | undefined;
  const sessionsFor = (secret: string) => {
    if (sessions?.secret !== secret) sessions = { secret, sessions: new Sessions(secret, { now }) };
    return sessions.sessions;
  };
  /**
   * The admin record last read, and when: read again after {@link ADMIN_FRESH_MS} (a "log out
   * everywhere" on another node reaches this one by then), and used as it is while this node
   * cannot read the cluster state (quorum lost), so pages keep working.
   */
  let knownAdmin: { record: AdminRecord | undefined; at: number } | undefined;
  const readAdmin = async (): Promise<AdminRecord | undefined> => {
    if (knownAdmin && now() - knownAdmin.at < ADMIN_FRESH_MS) return knownAdmin.record;
    try {
      const record = await deps.admin.get();
      knownAdmin = { record, at: now() };
      return record;
    } catch (err) {
      if (knownAdmin?.record) return knownAdmin.record;
      throw err;
    }
  };
  const app = new Hono();
  app.use(async (c, next) => {
    await next();
    // Pages carry their own styles and no scripts from elsewhere, and no other site may frame
    // them (a framed login form could be clicked through).
    c.header(
      "Content-Security-Policy",
      "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; " +
        "form-action 'self'; base-uri 'none'",
    );
    c.header("X-Frame-Options", "DENY");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
    if (!c.res.headers.has("Cache-Control")) c.header("Cache-Control", "no-store");
  });

  /** The secret and the admin record, or the page that says why there are none. */
  const state = async (c: Context) => {
    const secret = deps.secret();
    if (!secret) {
      return {
        page: c.html(
          <MessagePage
            title="This node is joining"
            text="It is not a member of the cluster yet. Open the UI of another node, or wait a moment and reload."
          />,
          503,
        ),
      };
    }
    let admin: AdminRecord | undefined;
    try {
      admin = await readAdmin();
    } catch (err) {
      log.warn("the UI cannot read the admin password", { err });
      return {
        page: c.html(
          <MessagePage
            title="The cluster state cannot be read"
            text="This node cannot reach the cluster's database right now. Try another node, or reload in a moment."
          />,
          503,
        ),
      };
    }
    return { secret, admin, sessions: sessionsFor(secret) };
  };

  // A new password, or a "log out everywhere", ends every session opened before.
  const epochOf = (admin: AdminRecord) =>
    createHash("sha256").update(`${admin.hash}\0${admin.signedOutAt ?? ""}`).digest("base64url")
      .slice(0, 16);

  /** The form cookie's nonce (set now when absent) and the CSRF token that goes with it. */
  const formToken = (c: Context, s: Sessions) => {
    let nonce = getCookie(c, cookieName(c, FORM_COOKIE));
    if (!nonce || !/^[A-Za-z0-9_-]{22}$/.test(nonce)) {
      nonce = formNonce();
      setCookie(c, cookieName(c, FORM_COOKIE), nonce, cookieOptions(c));
    }
    return s.csrf(`form.${nonce}`);
  };

  /** The form's fields, or undefined when it is too large, not a form, or from another site. */
  const readForm = async (
    c: Context,
    maxBytes = MAX_FORM_BYTES,
  ): Promise<Record<string, string> | undefined> => {
    const origin = c.req.header("origin");
    if (origin && origin !== "null" && URL.parse(origin)?.host !== c.req.header("host")) {
      return undefined;
    }
    const type = c.req.header("content-type") ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) return undefined;
    let body: Uint8Array;
    try {
      // Counted while it is read: a chunked body without a length is cut off at the limit too.
      body = await readLimitedBody(c.req.raw, maxBytes);
    } catch {
      return undefined;
    }
    return Object.fromEntries(new URLSearchParams(new TextDecoder().decode(body)));
  };

  /** A form posted before login, when it carries the token of this browser's form cookie. */
  const loginForm = async (c: Context, s: Sessions) => {
    const form = await readForm(c);
    const nonce = getCookie(c, cookieName(c, FORM_COOKIE));
    return form && nonce && s.checkCsrf(`form.${nonce}`, form.csrf) ? form : undefined;
  };

  const client = (c: Context) =>
    (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr?.hostname ?? "unknown";

  /** Where to type the password safely, when this page would send it in clear. */
  const safer = (c: Context) => saferUrl(new URL(c.req.url), client(c), deps.httpsPort?.());

  const refused = (c: Context) =>
    c.html(
      <MessagePage
        title="That form was refused"
        text="It did not come from this page (its security token is missing or old). Go back, reload the page and send it again."
      />,
      403,
    );

  const slowDown = (c: Context, waitMs: number) => {
    c.header("Retry-After", String(Math.ceil(waitMs / 1000)));
    return `Too many wrong tries from your device: wait ${
      Math.ceil(waitMs / 1000)
    } seconds, then try again.`;
  };

  /** The signed-in session's id, or the page to send instead. */
  const session = async (c: Context): Promise<{ sid: string; s: Sessions } | Response> => {
    const s = await state(c);
    if ("page" in s) return (await s.page) as Response;
    if (!s.admin) return c.redirect("/setup", 303);
    const found = s.sessions.check(getCookie(c, cookieName(c, SESSION_COOKIE)), epochOf(s.admin));
    if (!found) return c.redirect("/login", 303);
    return { sid: found.sid, s: s.sessions };
  };

  const failurePage = (
    c: Context,
    signed: Signed,
    section: Section,
    status: number,
    text: string,
  ) =>
    c.html(
      <Layout title="Something went wrong" csrf={signed.csrf} section={section}>
        <h1>That did not work</h1>
        <p role="alert">{text}</p>
        <p>
          <a href="">Try again</a> · <a href="/nodes">Open another node's UI</a>
        </p>
      </Layout>,
      (status >= 400 && status < 600 ? status : 500) as 500,
    );

  const ctx: UiContext = {
    deps,
    log,
    signedIn: async (c) => {
      const found = await session(c);
      if (found instanceof Response) return found;
      return { csrf: found.s.csrf(found.sid) };
    },
    posted: async (c, maxBytes) => {
      const found = await session(c);
      if (found instanceof Response) return found;
      const form = await readForm(c, maxBytes);
      if (!form || !found.s.checkCsrf(found.sid, form.csrf)) return refused(c);
      return { form, signed: { csrf: found.s.csrf(found.sid) } };
    },
    call: (method, path, body) => callApi(deps, method, path, body),
    live: async (c, render) => {
      const found = await session(c);
      if (found instanceof Response) return found;
      const cookie = getCookie(c, cookieName(c, SESSION_COOKIE));
      const allowed = async () => {
        const s = await state(c);
        return !("page" in s) && !!s.admin && !!s.sessions.check(cookie, epochOf(s.admin));
      };
      return new Response(
        liveRegion(render, c.req.raw.signal, {
          pollMs: deps.livePollMs ?? 2000,
          stillAllowed: allowed,
        }),
        { headers: SSE_HEADERS },
      );
    },
    failed: (c, signed, section, err) => {
      log.warn("a page failed", { path: c.req.path, err });
      return failurePage(
        c,
        signed,
        section,
        503,
        `This node could not read the cluster's state: ${
          err instanceof Error ? err.message : String(err)
        }. Reload in a moment, or open another node's UI.`,
      );
    },
    apiFailed: (c, signed, section, status, message) =>
      failurePage(c, signed, section, status, message),
  };

  // A page that fails unexpectedly is still a page that says so, never a stack trace or JSON.
  app.onError((err, c) => {
    log.error("a page failed", { path: c.req.path, error: err.stack ?? err });
    return c.html(
      <MessagePage
        title="Something went wrong"
        text="This node could not make this page. Its log says why (journalctl -u fossora). Reload, or open another node's UI."
      />,
      500,
    );
  });

  app.get("/ui.js", (c) =>
    c.body(UI_SCRIPT, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "max-age=300",
    }));
  addOverviewRoutes(app, ctx);
  addServicePages(app, ctx);
  addDeployPages(app, ctx);
  addCatalogPages(app, ctx);
  addNodePages(app, ctx);

  // Public, like the certificate itself: a phone needs it before it can log in safely.
  app.get("/trust", async (c) => {
    const found = await session(c);
    return c.html(
      <TrustPage csrf={found instanceof Response ? undefined : found.s.csrf(found.sid)} />,
    );
  });

  app.get("/setup", async (c) => {
    const s = await state(c);
    if ("page" in s) return s.page;
    if (s.admin) return c.redirect("/login", 303);
    return c.html(<SetupPage csrf={formToken(c, s.sessions)} safer={safer(c)} />);
  });

  app.post("/setup", async (c) => {
    const s = await state(c);
    if ("page" in s) return s.page;
    const form = await loginForm(c, s.sessions);
    if (!form) return refused(c);
    if (s.admin) return c.redirect("/login", 303);
    const again = (problem: string, status: 400 | 429 = 400) =>
      c.html(
        <SetupPage csrf={formToken(c, s.sessions)} problem={problem} safer={safer(c)} />,
        status,
      );
    const wait = throttle.attempt(client(c));
    if (wait > 0) return again(slowDown(c, wait), 429);
    if (!isSetupCode(form.code ?? "", setupCode(s.secret))) {
      log.warn("wrong setup code on the first-run page", { client: client(c) });
      return again(
        "That is not the setup code. Copy it from the agent's log, or run fossora ui setup-code on a node.",
      );
    }
    // The code was right: a password too short is no guess.
    throttle.succeeded(client(c));
    const problem = passwordProblem(form.password ?? "", form.again ?? "");
    if (problem) return again(problem);
    const record = {
      hash: await hashPassword(form.password!),
      setAt: new Date(now()).toISOString(),
    };
    if (!await deps.admin.create(record)) return c.redirect("/login", 303);
    knownAdmin = { record, at: now() };
    log.info("the web UI's admin password is set", { client: client(c) });
    startSession(c, s.sessions, record);
    return c.redirect("/", 303);
  });

  app.get("/login", async (c) => {
    const s = await state(c);
    if ("page" in s) return s.page;
    if (!s.admin) return c.redirect("/setup", 303);
    return c.html(<LoginPage csrf={formToken(c, s.sessions)} safer={safer(c)} />);
  });

  app.post("/login", async (c) => {
    const s = await state(c);
    if ("page" in s) return s.page;
    const form = await loginForm(c, s.sessions);
    if (!form) return refused(c);
    if (!s.admin) return c.redirect("/setup", 303);
    const again = (problem: string, status: 401 | 429) =>
      c.html(
        <LoginPage csrf={formToken(c, s.sessions)} problem={problem} safer={safer(c)} />,
        status,
      );
    const wait = throttle.attempt(client(c));
    if (wait > 0) return again(slowDown(c, wait), 429);
    const password = form.password ?? "";
    let right: boolean;
    try {
      right = password.length <= MAX_PASSWORD_LENGTH &&
        await verifyPassword(password, s.admin.hash);
    } catch (err) {
      if (!(err instanceof BusyError)) throw err;
      c.header("Retry-After", "5");
      return again(
        "This node is checking many passwords right now: try again in a few seconds.",
        429,
      );
    }
    if (!right) {
      log.warn("wrong password on the login page", { client: client(c) });
      return again("That password is not right. Try again.", 401);
    }
    throttle.succeeded(client(c));
    startSession(c, s.sessions, s.admin);
    return c.redirect("/", 303);
  });

  app.post("/logout", async (c) => {
    const p = await ctx.posted(c);
    if (p instanceof Response) return p;
    if (p.form.everywhere === "1") {
      // Every session of every browser ends: what to do when a device is lost or a cookie may
      // have been read on the way.
      const admin = await readAdmin();
      if (!admin) return c.redirect("/setup", 303);
      const record = { ...admin, signedOutAt: new Date(now()).toISOString() };
      await deps.admin.replace(record);
      knownAdmin = { record, at: now() };
      log.info("every web UI session was ended", { client: client(c) });
    }
    deleteCookie(c, cookieName(c, SESSION_COOKIE), cookieOptions(c));
    return c.redirect("/login", 303);
  });

  function startSession(c: Context, s: Sessions, admin: AdminRecord): void {
    setCookie(c, cookieName(c, SESSION_COOKIE), s.issue(epochOf(admin)), {
      ...cookieOptions(c),
      maxAge: SESSION_TTL_MS / 1000,
    });
  }

  return Object.assign(app, {
    authorizes: async (req: Request) => {
      const name = cookieName(new URL(req.url), SESSION_COOKIE);
      const cookie = new RegExp(`(?:^|;\\s*)${name}=([^;]+)`)
        .exec(req.headers.get("cookie") ?? "")?.[1];
      const secret = deps.secret();
      if (!cookie || !secret) return false;
      let admin: AdminRecord | undefined;
      try {
        admin = await readAdmin();
      } catch {
        return false;
      }
      if (!admin) return false;
      const s = sessionsFor(secret);
      const found = s.check(cookie, epochOf(admin));
      if (!found) return false;
      if (req.method === "GET" || req.method === "HEAD") return true;
      return s.checkCsrf(found.sid, req.headers.get("x-csrf-token") ?? undefined);
    },
  });
}

/** HttpOnly, SameSite=Strict, and Secure when the page came over HTTPS. */
function cookieOptions(c: Context) {
  return {
    path: "/",
    httpOnly: true,
    sameSite: "Strict" as const,
    secure: new URL(c.req.url).protocol === "https:",
  };
}

/**
 * A cookie's name over this page's scheme: over HTTPS with `__Host-`, which the browser takes
 * only with Secure, from this very host, so a page over plain HTTP (or a service on another port
 * of this host) can neither set it nor overwrite it; over HTTP without, as it must be.
 */
function cookieName(at: Context | URL, name: string): string {
  const url = at instanceof URL ? at : new URL(at.req.url);
  return url.protocol === "https:" ? `__Host-${name}` : name;
}
