/**
 * What every page of the web UI shares: what it needs from the agent, the signed-in check, the
 * CSRF check of posted forms, and calls to this node's API, which does every read and write
 * (the UI validates nothing the API does not).
 * @module
 */
import type { Context } from "hono";
import type { Logger } from "../util/log.ts";
import type { Catalog } from "./catalog.ts";
import type { Section } from "./layout.tsx";

/** The admin password as stored in etcd (`ui/admin`). */
export interface AdminRecord {
  hash: string;
  setAt: string;
  /** When every session was last ended ("log out everywhere"); sessions opened before end. */
  signedOutAt?: string;
}

/** Where the admin password is kept: etcd in the agent, a map in unit tests. */
export interface AdminStore {
  get(): Promise<AdminRecord | undefined>;
  /** Stores the first password; false when one exists already (another first run won). */
  create(record: AdminRecord): Promise<boolean>;
  /** Replaces the record (a "log out everywhere"). */
  replace(record: AdminRecord): Promise<void>;
}

/** What the UI needs from the agent. */
export interface UiDeps {
  /**
   * Asks this node's API, as the admin: the UI has checked the session and the form's CSRF
   * token before it calls.
   */
  api(path: string, init?: RequestInit): Promise<Response>;
  domain: string;
  /** This node's name: the UI says which node serves it, and only this node can leave here. */
  nodeName: string;
  /** The cluster's secret, which every node has; undefined until this node is a member. */
  secret(): string | undefined;
  admin: AdminStore;
  /** The port this UI is served on over HTTPS, once it is (the login page points there). */
  httpsPort?(): number | undefined;
  /** The app catalog; default the one in `catalog/`. */
  catalog?: Catalog;
  /** How often live pages look for changes, in ms (default 2 s). */
  livePollMs?: number;
  now?: () => number;
  log?: Logger;
}

/** An error as the API answers it. */
export interface ApiProblem {
  code: string;
  message: string;
  details: { path?: string; message?: string }[];
}

/** An API answer: its body, or its error. */
export type ApiAnswer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; error: ApiProblem };

/** A signed-in browser: the CSRF token its forms carry. */
export interface Signed {
  csrf: string;
}

/** What the page routes are given. */
export interface UiContext {
  deps: UiDeps;
  log: Logger;
  /** The signed-in browser, or the page to send instead (login, first run, or why not). */
  signedIn(c: Context): Promise<Signed | Response>;
  /**
   * A form posted by a signed-in browser with its CSRF token, or the refusal to send instead.
   * `maxBytes` bounds the body (default 8 KiB).
   */
  posted(
    c: Context,
    maxBytes?: number,
  ): Promise<{ form: Record<string, string>; signed: Signed } | Response>;
  /** Calls the API; a failure to reach it is an error answer like any other. */
  call<T>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>>;
  /** A live region's event stream for a signed-in browser (see live.ts). */
  live(c: Context, render: () => Promise<string>): Promise<Response>;
  /** The page for a read that failed (503), with what to do. */
  failed(c: Context, signed: Signed, section: Section, err: unknown): Response | Promise<Response>;
  /** The page for an API refusal, with its status and message. */
  apiFailed(
    c: Context,
    signed: Signed,
    section: Section,
    status: number,
    message: string,
  ): Response | Promise<Response>;
}

/** Calls the API through `deps.api`; JSON in and out, errors as {@link ApiProblem}. */
export async function callApi<T>(
  deps: Pick<UiDeps, "api">,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiAnswer<T>> {
  let res: Response;
  try {
    res = await deps.api(path, {
      method,
      ...(body === undefined ? {} : {
        body: typeof body === "string" ? body : JSON.stringify(body),
        headers: { "content-type": "application/json" },
      }),
    });
  } catch (err) {
    return {
      ok: false,
      status: 503,
      error: {
        code: "unreachable",
        message: `this node could not do that: ${err instanceof Error ? err.message : err}`,
        details: [],
      },
    };
  }
  const json = await res.json().catch(() => undefined);
  if (res.ok) return { ok: true, status: res.status, body: json as T };
  const error = (json as { error?: ApiProblem } | undefined)?.error;
  return {
    ok: false,
    status: res.status,
    error: error ?? { code: "http_error", message: `the API answered ${res.status}`, details: [] },
  };
}
