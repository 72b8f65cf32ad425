/**
 * The web UI as the agent wires it, for tests: mounted in an API over a `MemoryView` with a
 * `MemoryStore`, calling that API in-process; and a browser that keeps cookies and CSRF tokens.
 * @module
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { createApi } from "../api/app.ts";
import { MemoryStore, sampleView, testDeps } from "../api/fixtures.ts";
import type { ApiDeps } from "../api/types.ts";
import type { MemoryView } from "../state/view.ts";
import { type AdminRecord, createUi, type UiDeps } from "./app.tsx";
import { setupCode } from "./setup_code.ts";

export const SECRET = "the cluster's peer token";
export const PASSWORD = "correct horse battery";
const TOKEN = "t";

/** The API with the UI, over `view` (default the sample: whoami and mc on pi-a and pi-b). */
export function testUi(
  o: {
    secret?: string | undefined;
    view?: MemoryView;
    ui?: Partial<UiDeps>;
    api?: Partial<ApiDeps>;
  } = {},
) {
  let admin: AdminRecord | undefined;
  const view = o.view ?? sampleView();
  const store = new MemoryStore(view);
  // The UI calls the API it is mounted in: made after it.
  const late: { api?: Hono } = {};
  const ui = createUi({
    api: async (path, init) =>
      await late.api!.request(path, {
        ...init,
        headers: { ...init?.headers as Record<string, string>, authorization: `Bearer ${TOKEN}` },
      }),
    domain: "home.test",
    nodeName: "pi-a",
    secret: () => "secret" in o ? o.secret : SECRET,
    admin: {
      get: () => Promise.resolve(admin),
      create: (r) => Promise.resolve(admin ? false : (admin = r, true)),
      replace: (r) => (admin = r, Promise.resolve()),
    },
    livePollMs: 20,
    ...o.ui,
  });
  late.api = createApi(testDeps(view, { services: store, adminToken: TOKEN, ui, ...o.api }));
  return { app: late.api, view, store, admin: () => admin };
}

/** A browser: keeps cookies, reads the CSRF token of the last page. */
export class Browser {
  cookies = new Map<string, string>();
  csrf = "";
  constructor(readonly app: Hono, readonly client = "192.168.1.20") {}

  async go(path: string, form?: Record<string, string>): Promise<Response & { text_: string }> {
    const headers: Record<string, string> = { host: "pi-a:7440" };
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    }
    let body: string | undefined;
    if (form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    const res = await this.app.request(`http://pi-a:7440${path}`, {
      method: form ? "POST" : "GET",
      headers,
      body,
    }, { remoteAddr: { transport: "tcp", hostname: this.client, port: 50000 } });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [k, v] = pair.split("=");
      if (/Max-Age=0/i.test(line) || v === "") this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    const token = /name="csrf" value="([^"]+)"/.exec(text)?.[1];
    if (token) this.csrf = token;
    return Object.assign(res, { text_: text });
  }

  /** Posts a form with this browser's CSRF token. */
  post(path: string, form: Record<string, string> = {}) {
    return this.go(path, { csrf: this.csrf, ...form });
  }
}

/** The UI once someone has set the admin password, and a browser logged in. */
export async function signedIn(o: Parameters<typeof testUi>[0] = {}) {
  const made = testUi(o);
  const b = new Browser(made.app);
  await b.go("/setup");
  const set = await b.go("/setup", {
    csrf: b.csrf,
    code: setupCode(SECRET),
    password: PASSWORD,
    again: PASSWORD,
  });
  assert.equal(set.status, 303);
  await b.go("/");
  return { ...made, b };
}
