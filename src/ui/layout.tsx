/**
 * The frame of every page (navigation, one small stylesheet inline, one small script from this
 * node) and the pieces pages share: problems, states, times and sizes said for people.
 * @module
 */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--soft:#f6f8fa;--muted:#57606a;--line:#d0d7de;--accent:#0b5cad;--bad:#a40e26;--warn:#7d4e00;--good:#116329}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--soft:#161b22;--muted:#9da7b3;--line:#30363d;--accent:#58a6ff;--bad:#ff7b72;--warn:#d29922;--good:#3fb950}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;gap:.25em 1em;align-items:center;padding:.5em 1em;border-bottom:1px solid var(--line)}
header .brand{font-weight:700;color:inherit;text-decoration:none;margin-right:auto}
nav ul{display:flex;flex-wrap:wrap;gap:.25em .9em;list-style:none;margin:0;padding:0}nav a{text-decoration:none}nav a[aria-current=page]{font-weight:700;text-decoration:underline}
header form{margin:0}main{max-width:64em;margin:0 auto;padding:1em}
h1{font-size:1.6em;margin:.3em 0}h2{font-size:1.25em;margin:1.2em 0 .4em}
label{display:block;margin:.75em 0 .25em;font-weight:600}
input,select,textarea{width:100%;max-width:32em;padding:.5em;font:inherit;color:inherit;background:var(--bg);border:1px solid var(--muted);border-radius:4px}
textarea{max-width:none;font-family:ui-monospace,monospace;font-size:.9em}input[type=number]{max-width:8em}
button,.button{display:inline-block;margin:.75em .5em 0 0;padding:.5em 1.1em;font:inherit;color:#fff;background:var(--accent);border:0;border-radius:4px;cursor:pointer;text-decoration:none}
@media (prefers-color-scheme:dark){button,.button{color:#0d1117}}
button.danger{background:var(--bad)}button.quiet,.button.quiet{background:none;color:var(--accent);border:1px solid var(--accent)}
.link{background:none;color:var(--accent);padding:0;margin:0;text-decoration:underline}
.problem{color:var(--bad);font-weight:600}.hint{color:var(--muted);font-size:.95em}
.warnings{list-style:none;padding:0}.warnings li{border-left:4px solid var(--warn);background:var(--soft);padding:.5em .75em;margin:.4em 0}
.warnings li.bad{border-color:var(--bad)}.notice{border-left:4px solid var(--warn);background:var(--soft);padding:.5em .75em}
.table{overflow-x:auto}table{border-collapse:collapse;width:100%;margin:.5em 0 1em}th,td{text-align:left;padding:.4em .5em;border-bottom:1px solid var(--line);vertical-align:top}
@media (max-width:40em){.table table,.table tbody,.table tr,.table td{display:block}.table thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}.table tr{border-bottom:1px solid var(--line);padding:.3em 0}.table td{display:grid;grid-template-columns:6.5em 1fr;gap:.5em;border:0;padding:.15em .25em}.table td::before{content:attr(data-label);color:var(--muted)}}
.state{font-weight:600}.state-ready,.state-running{color:var(--good)}.state-failing,.state-down,.state-error,.state-exited{color:var(--bad)}.state-degraded,.state-starting,.state-pending,.state-joining,.state-created{color:var(--warn)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(15em,1fr));gap:1em;padding:0;list-style:none}.cards>li{border:1px solid var(--line);border-radius:6px;padding:.75em 1em}
.cards h2,.cards h3{margin:.1em 0 .3em;font-size:1.1em}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
pre,code{font-family:ui-monospace,monospace;font-size:.9em}pre{background:var(--soft);padding:.75em;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.log{height:60vh;white-space:pre-wrap;overflow-wrap:anywhere}.actions{display:flex;flex-wrap:wrap;align-items:end;gap:.5em 1em}.actions form{margin:0}.scale{display:flex;flex-wrap:wrap;align-items:center;gap:0 .75em}.scale label{margin:.75em 0 0}.scale input{margin-top:.75em}
.listing{list-style:none;padding:0;margin:0;font-family:ui-monospace,monospace;font-size:.9em;background:var(--soft);border-radius:4px;overflow-wrap:anywhere}
.listing li{display:grid;grid-template-columns:3.5em 1fr;white-space:pre-wrap}.listing .n{color:var(--muted);text-align:right;padding-right:.75em;user-select:none}
.listing li.has-problem{background:color-mix(in srgb,var(--bad) 12%,transparent)}.listing .says{grid-column:2;color:var(--bad);font-family:system-ui,sans-serif;font-weight:600;white-space:normal;padding:.1em 0 .3em}
form.inline{display:inline}summary h2.summary{display:inline;font-size:1.25em}summary{cursor:pointer;margin:1.2em 0 .4em}#offline{position:sticky;top:0;background:var(--bad);color:#fff;padding:.5em 1em;margin:0}
a{color:var(--accent)}:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
`;

/** The sections of the navigation. */
export type Section = "overview" | "services" | "deploy" | "catalog" | "nodes";

const SECTIONS: [Section, string, string][] = [
  ["overview", "/", "Overview"],
  ["services", "/services", "Services"],
  ["deploy", "/deploy", "Deploy"],
  ["catalog", "/catalog", "Apps"],
  ["nodes", "/nodes", "Nodes"],
];

/** The frame of every page; with `csrf` (signed in) it has the navigation and log out. */
export function Layout(
  props: { title: string; csrf?: string; section?: Section; children: Child },
) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · fossora`}</title>
        <style>{raw(STYLE)}</style>
        {props.csrf && <script src="/ui.js" defer></script>}
      </head>
      <body>
        <header>
          <a class="brand" href="/">fossora</a>
          {props.csrf && (
            <nav aria-label="Sections">
              <ul>
                {SECTIONS.map(([id, href, label]) => (
                  <li>
                    <a href={href} aria-current={props.section === id ? "page" : undefined}>
                      {label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {props.csrf && (
            <form method="post" action="/logout">
              <input type="hidden" name="csrf" value={props.csrf} />
              <button type="submit" class="link">Log out</button>
            </form>
          )}
        </header>
        <p id="offline" role="alert" hidden>
          This node stopped answering. Open the UI of another node (see Nodes), or wait: this page
          tries again by itself.
        </p>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A problem with what was sent, announced to screen readers. */
export function Problem(props: { text?: string; id?: string }) {
  return props.text
    ? <p class="problem" role="alert" id={props.id ?? "problem"}>{props.text}</p>
    : null;
}

/** A state word, coloured (and never by colour alone: the word is there). */
export function State(props: { state: string }) {
  return <span class={`state state-${props.state}`}>{props.state}</span>;
}

/**
 * A table that may scroll sideways on a phone: a labelled region the keyboard can reach, so it
 * can be scrolled without a mouse.
 */
export function Scroll(props: { label: string; children: Child }) {
  return (
    <div class="table" role="region" aria-label={props.label} tabindex={0}>
      {props.children}
    </div>
  );
}

/** A hidden CSRF field. */
export function Csrf(props: { token: string }) {
  return <input type="hidden" name="csrf" value={props.token} />;
}

/** A point in time as "3 min ago", with the exact time for those who want it. */
export function Ago(props: { at: string | number; now: number }) {
  const t = typeof props.at === "number" ? props.at : Date.parse(props.at);
  if (!Number.isFinite(t) || t <= 0) return <span>—</span>;
  const iso = new Date(t).toISOString();
  return <time datetime={iso} title={iso}>{ago(props.now - t)}</time>;
}

/** A duration in the past, said shortly. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Bytes as people read them: 512 MB, 3.2 GB. */
export function bytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}
