/**
 * The web UI's pages, rendered on the server (hono/jsx): plain HTML forms that work without
 * JavaScript, labelled fields, and one small stylesheet inline, so the first page is a few KB and
 * needs nothing from the internet.
 * @module
 */
import type { Child } from "hono/jsx";
import type { NodeRecord, ServiceRecord } from "../state/types.ts";

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--accent:#0b5cad;--bad:#a40e26}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9da7b3;--line:#30363d;--accent:#58a6ff;--bad:#ff7b72}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1em;align-items:center;justify-content:space-between;padding:.75em 1em;border-bottom:1px solid var(--line)}
header a{color:inherit;text-decoration:none;font-weight:600}header form{margin:0}main{max-width:60em;margin:0 auto;padding:1em}
label{display:block;margin:.75em 0 .25em;font-weight:600}input{width:100%;max-width:24em;padding:.5em;font:inherit;color:inherit;background:var(--bg);border:1px solid var(--muted);border-radius:4px}
button{margin-top:1em;padding:.5em 1.25em;font:inherit;color:#fff;background:var(--accent);border:0;border-radius:4px;cursor:pointer}
.link{background:none;color:var(--accent);padding:0;margin:0;text-decoration:underline}
.problem{color:var(--bad);font-weight:600}.hint{color:var(--muted)}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{text-align:left;padding:.4em .5em;border-bottom:1px solid var(--line)}
a{color:var(--accent)}:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
`;

/** The frame of every page. */
export function Layout(props: { title: string; csrf?: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · fossora`}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <header>
          <a href="/">fossora</a>
          {props.csrf && (
            <form method="post" action="/logout">
              <input type="hidden" name="csrf" value={props.csrf} />
              <button type="submit" class="link">Log out</button>
            </form>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A problem with what was sent, next to the form, announced to screen readers. */
function Problem(props: { text?: string }) {
  return props.text ? <p class="problem" role="alert" id="problem">{props.text}</p> : null;
}

/** First run: the setup code from the agent's log, and the admin password to set. */
export function SetupPage(props: { csrf: string; problem?: string }) {
  const described = props.problem ? "problem" : undefined;
  return (
    <Layout title="Set up">
      <h1>Welcome to fossora</h1>
      <p>
        This cluster has no admin password yet. To show it is yours, type the setup code: it is in
        the agent's log, and <code>fossora ui setup-code</code> prints it on any node.
      </p>
      <Problem text={props.problem} />
      <form method="post" action="/setup">
        <input type="hidden" name="csrf" value={props.csrf} />
        <label for="code">Setup code</label>
        <input
          id="code"
          name="code"
          autocomplete="off"
          autocapitalize="characters"
          required
          aria-describedby={described}
        />
        <label for="password">Admin password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          minlength={10}
          required
        />
        <label for="again">The same password again</label>
        <input
          id="again"
          name="again"
          type="password"
          autocomplete="new-password"
          minlength={10}
          required
        />
        <p class="hint">At least 10 characters. Every node of the cluster takes this password.</p>
        <button type="submit">Set the password</button>
      </form>
    </Layout>
  );
}

/** Login with the admin password. */
export function LoginPage(props: { csrf: string; problem?: string }) {
  return (
    <Layout title="Log in">
      <h1>Log in</h1>
      <Problem text={props.problem} />
      <form method="post" action="/login">
        <input type="hidden" name="csrf" value={props.csrf} />
        <label for="password">Admin password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          autofocus
        />
        <button type="submit">Log in</button>
      </form>
    </Layout>
  );
}

/** A page that says why the UI cannot serve yet, and what to do. */
export function MessagePage(props: { title: string; text: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p>{props.text}</p>
    </Layout>
  );
}

/** What a service's replicas are doing, and where it answers. */
export interface ServiceRow {
  record: ServiceRecord;
  ready: number;
  url?: string;
}

/** The cluster at a glance: its nodes and its services. */
export function OverviewPage(props: {
  csrf: string;
  domain: string;
  nodes: NodeRecord[];
  services: ServiceRow[];
}) {
  return (
    <Layout title="Overview" csrf={props.csrf}>
      <h1>Your cluster</h1>
      <h2>Nodes</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">State</th>
            <th scope="col">Role</th>
            <th scope="col">Arch</th>
            <th scope="col">Site</th>
          </tr>
        </thead>
        <tbody>
          {props.nodes.map((n) => (
            <tr>
              <td>{n.name}</td>
              <td>{n.state}</td>
              <td>{n.role}</td>
              <td>{n.arch}</td>
              <td>{n.site}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Services</h2>
      {props.services.length === 0
        ? (
          <p>
            No services yet. Deploy one with <code>fossora deploy FILE</code> on a node.
          </p>
        )
        : (
          <table>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Ready</th>
                <th scope="col">Image</th>
                <th scope="col">Address</th>
              </tr>
            </thead>
            <tbody>
              {props.services.map((s) => (
                <tr>
                  <td>{s.record.spec.name}</td>
                  <td>{`${s.ready}/${s.record.spec.replicas}`}</td>
                  <td>{s.record.spec.image}</td>
                  <td>{s.url ? <a href={s.url}>{s.url}</a> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </Layout>
  );
}
