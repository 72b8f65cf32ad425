/**
 * The services: the list, one service in detail (replicas, where they run, ports, volumes,
 * host paths, what happened to it), restart, scale and remove with a confirmation, and its
 * logs, followed live with a pause.
 * @module
 */
import type { Context, Hono } from "hono";
import { raw } from "hono/html";
import type { ServiceDetail, ServiceSummary } from "../api/mod.ts";
import type { Signed, UiContext } from "./context.ts";
import { Ago, Csrf, Layout, Problem, Scroll, State } from "./layout.tsx";
import { SSE_HEADERS, sseEvent } from "./live.ts";
import { ServiceTable } from "./overview.tsx";

/** Longest piece of a line held while its end has not come. */
const MAX_LINE = 16 * 1024;

/** Lines of log shown before following: the same as `docker logs --tail`. */
const LOG_TAIL = 200;

function ServiceBody(props: { s: ServiceDetail; now: number }) {
  const { s, now } = props;
  const spec = s.spec;
  return (
    <>
      <dl>
        <dt>State</dt>
        <dd>
          <State state={s.state} />
          {s.problem && <div class="problem">{s.problem}</div>}
        </dd>
        <dt>Address</dt>
        <dd>{s.url ? <a href={s.url}>{s.url}</a> : "no web address (no HTTP port)"}</dd>
        <dt>Image</dt>
        <dd>
          <code>{spec.image}</code>
        </dd>
        <dt>Replicas</dt>
        <dd>{`${s.replicas.filter((r) => r.ready).length} ready of ${spec.replicas} wanted`}</dd>
        <dt>Updated</dt>
        <dd>
          <Ago at={s.updatedAt} now={now} /> {`(generation ${s.generation})`}
        </dd>
        {spec.stack && (
          <>
            <dt>Stack</dt>
            <dd>{spec.stack}</dd>
          </>
        )}
      </dl>
      <h2>Replicas</h2>
      {s.replicas.length === 0 ? <p>No replica runs yet.</p> : (
        <Scroll label="Its replicas">
          <table>
            <thead>
              <tr>
                <th scope="col">Replica</th>
                <th scope="col">Node</th>
                <th scope="col">State</th>
                <th scope="col">Since</th>
                <th scope="col">Restarts</th>
              </tr>
            </thead>
            <tbody>
              {s.replicas.map((r) => (
                <tr>
                  <td data-label="Replica">{r.replica}</td>
                  <td data-label="Node">
                    <a href={`/nodes/${encodeURIComponent(r.node)}`}>{r.node}</a>
                  </td>
                  <td data-label="State">
                    <State state={r.ready ? "ready" : r.state} />
                    {r.message && <div class="hint">{r.message}</div>}
                  </td>
                  <td data-label="Since">
                    <Ago at={r.since} now={now} />
                  </td>
                  <td data-label="Restarts">{r.restarts}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <h2>What happened</h2>
      {s.events.length === 0 ? <p>Nothing has happened to it yet.</p> : (
        <ul>
          {s.events.map((e) => (
            <li>
              <Ago at={e.at} now={now} />: {e.message}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** Ports, volumes, host paths and devices: what the spec asks, which changes only by a deploy. */
function ServiceSettings(props: { s: ServiceDetail }) {
  const spec = props.s.spec;
  return (
    <>
      <h2>Ports</h2>
      {spec.ports.length === 0 ? <p>None.</p> : (
        <ul>
          {spec.ports.map((p) => (
            <li>
              {`${p.container}/${p.protocol === "udp" ? "udp" : "tcp"}`}
              {p.http ? " (web, through every node's proxy)" : ""}
              {p.published !== undefined ? `, published on every node at ${p.published}` : ""}
            </li>
          ))}
        </ul>
      )}
      <h2>Volumes and host paths</h2>
      {spec.volumes.length + (spec.binds?.length ?? 0) + (spec.devices?.length ?? 0) === 0
        ? <p>None: it keeps no data.</p>
        : (
          <ul>
            {spec.volumes.map((v) => (
              <li>
                {`volume ${v.name} at ${v.path}`}
                {v.readOnly ? " (read-only)" : ""}
                {v.shared ? " (shared by the stack's services)" : ""}
              </li>
            ))}
            {(spec.binds ?? []).map((b) => (
              <li>
                {`host path ${b.source} at ${b.path}`}
                {b.readOnly ? " (read-only)" : ""}
              </li>
            ))}
            {(spec.devices ?? []).map((d) => <li>{`device ${d.host}`}</li>)}
          </ul>
        )}
      {(props.s.nodes ?? []).some((n) => !n.eligible) && (
        <>
          <h2>Where it may not run</h2>
          <ul>
            {(props.s.nodes ?? []).filter((n) => !n.eligible).map((n) => (
              <li>{`${n.node}: ${n.reason}`}</li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function ServicePage(props: { s: ServiceDetail; body: string; signed: Signed; problem?: string }) {
  const { s } = props;
  const path = `/services/${encodeURIComponent(s.name)}`;
  return (
    <Layout title={s.name} csrf={props.signed.csrf} section="services">
      <h1>{s.name}</h1>
      <Problem text={props.problem} />
      <div class="actions">
        <a class="button" href={`${path}/logs`}>Logs</a>
        <a class="button quiet" href={`${path}/restart`}>Restart</a>
        <a class="button quiet" href={`${path}/remove`}>Remove</a>
      </div>
      <form method="post" action={`${path}/scale`} class="scale">
        <Csrf token={props.signed.csrf} />
        <label for="replicas">Replicas</label>
        <input
          id="replicas"
          name="replicas"
          type="number"
          min="0"
          max="100"
          value={String(s.spec.replicas)}
          required
        />
        <button type="submit" class="quiet">Scale</button>
      </form>
      <div data-live={`/live${path}`}>{raw(props.body)}</div>
      <ServiceSettings s={s} />
      <p class="hint">
        {s.spec.stack
          ? `To change its settings, edit the stack's compose file and deploy it again.`
          : "To change its settings, deploy its file again: the Deploy page shows what changes first."}
      </p>
    </Layout>
  );
}

/** A page that asks before doing something that cannot be undone. */
function ConfirmPage(props: {
  signed: Signed;
  title: string;
  text: string;
  action: string;
  button: string;
  back: string;
  danger?: boolean;
}) {
  return (
    <Layout title={props.title} csrf={props.signed.csrf} section="services">
      <h1>{props.title}</h1>
      <p>{props.text}</p>
      <form method="post" action={props.action}>
        <Csrf token={props.signed.csrf} />
        <button type="submit" class={props.danger ? "danger" : undefined}>{props.button}</button>
        <a class="button quiet" href={props.back}>Cancel</a>
      </form>
    </Layout>
  );
}

/** Adds the service pages. */
export function addServicePages(app: Hono, ctx: UiContext): void {
  const now = ctx.deps.now ?? Date.now;
  const detail = (name: string) =>
    ctx.call<ServiceDetail>("GET", `/api/v1/services/${encodeURIComponent(name)}`);
  const list = async () => {
    const answer = await ctx.call<{ services: ServiceSummary[] }>("GET", "/api/v1/services");
    if (!answer.ok) throw new Error(answer.error.message);
    return String(await <ServiceTable services={answer.body.services} />);
  };
  const body = async (name: string) => {
    const answer = await detail(name);
    if (!answer.ok) throw new Error(answer.error.message);
    return String(await <ServiceBody s={answer.body} now={now()} />);
  };

  app.get("/services", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    let html: string;
    try {
      html = await list();
    } catch (err) {
      return ctx.failed(c, s, "services", err);
    }
    return c.html(
      <Layout title="Services" csrf={s.csrf} section="services">
        <h1>Services</h1>
        <p>
          <a href="/deploy">Deploy a service or compose file</a> ·{" "}
          <a href="/catalog">Install an app</a>
        </p>
        <div data-live="/live/services">{raw(html)}</div>
      </Layout>,
    );
  });
  app.get("/live/services", (c) => ctx.live(c, list));

  /** The service's page, with a problem from an action above it. */
  const page = async (c: Context, s: Signed, name: string, problem?: string, status = 200) => {
    const answer = await detail(name);
    if (!answer.ok) return ctx.apiFailed(c, s, "services", answer.status, answer.error.message);
    const html = String(await <ServiceBody s={answer.body} now={now()} />);
    return c.html(
      <ServicePage s={answer.body} body={html} signed={s} problem={problem} />,
      status as 200,
    );
  };

  app.get("/services/:name", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    return page(c, s, c.req.param("name"));
  });
  app.get("/live/services/:name", (c) => ctx.live(c, () => body(c.req.param("name"))));

  const confirm = (kind: "restart" | "remove") => async (c: Context) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    const name = c.req.param("name")!;
    const answer = await detail(name);
    if (!answer.ok) return ctx.apiFailed(c, s, "services", answer.status, answer.error.message);
    const path = `/services/${encodeURIComponent(name)}`;
    return c.html(
      kind === "remove"
        ? (
          <ConfirmPage
            signed={s}
            title={`Remove ${name}?`}
            text={`Its ${answer.body.spec.replicas} replica(s) stop and it is gone from every node. ` +
              "Its volumes stay on the nodes that had them, so deploying it again finds its data."}
            action={`${path}/remove`}
            button={`Remove ${name}`}
            back={path}
            danger
          />
        )
        : (
          <ConfirmPage
            signed={s}
            title={`Restart ${name}?`}
            text="Its replicas are replaced one at a time, each new one ready before the next goes, so a service with two or more replicas keeps answering."
            action={`${path}/restart`}
            button={`Restart ${name}`}
            back={path}
          />
        ),
    );
  };
  app.get("/services/:name/remove", confirm("remove"));
  app.get("/services/:name/restart", confirm("restart"));

  app.post("/services/:name/remove", async (c) => {
    const p = await ctx.posted(c);
    if (p instanceof Response) return p;
    const name = c.req.param("name");
    const answer = await ctx.call("DELETE", `/api/v1/services/${encodeURIComponent(name)}`);
    if (!answer.ok) return page(c, p.signed, name, answer.error.message, answer.status);
    return c.redirect(`/services?removed=${encodeURIComponent(name)}`, 303);
  });
  app.post("/services/:name/restart", async (c) => {
    const p = await ctx.posted(c);
    if (p instanceof Response) return p;
    const name = c.req.param("name");
    const path = `/services/${encodeURIComponent(name)}`;
    const answer = await ctx.call("POST", `/api/v1${path}/restart`);
    if (!answer.ok) return page(c, p.signed, name, answer.error.message, answer.status);
    return c.redirect(path, 303);
  });
  app.post("/services/:name/scale", async (c) => {
    const p = await ctx.posted(c);
    if (p instanceof Response) return p;
    const name = c.req.param("name");
    const path = `/services/${encodeURIComponent(name)}`;
    const replicas = /^\d{1,3}$/.test(p.form.replicas ?? "") ? Number(p.form.replicas) : -1;
    const answer = await ctx.call("POST", `/api/v1${path}/scale`, { replicas });
    if (!answer.ok) return page(c, p.signed, name, answer.error.message, answer.status);
    return c.redirect(path, 303);
  });

  app.get("/services/:name/logs", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    const name = c.req.param("name");
    const answer = await detail(name);
    if (!answer.ok) return ctx.apiFailed(c, s, "services", answer.status, answer.error.message);
    const path = `/services/${encodeURIComponent(name)}`;
    return c.html(
      <Layout title={`Logs of ${name}`} csrf={s.csrf} section="services">
        <h1>
          Logs of <a href={path}>{name}</a>
        </h1>
        <p class="hint">
          {`The last ${LOG_TAIL} lines of every replica, then new lines as they come.`}
        </p>
        <div class="actions">
          <button type="button" id="pause" aria-pressed="false">Pause</button>
          <span id="log-state" role="status">Connecting…</span>
        </div>
        <pre
          id="log"
          class="log"
          tabindex={0}
          aria-label={`Logs of ${name}`}
          data-stream={`${path}/logs/live`}
        ></pre>
      </Layout>,
    );
  });

  app.get("/services/:name/logs/live", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    const name = encodeURIComponent(c.req.param("name"));
    let res: Response;
    try {
      res = await ctx.deps.api(`/api/v1/services/${name}/logs?follow=1&tail=${LOG_TAIL}`, {
        signal: c.req.raw.signal,
      });
    } catch (err) {
      res = Response.json({ error: { message: String(err) } }, { status: 503 });
    }
    return new Response(logEvents(res), { headers: SSE_HEADERS });
  });
}

/** The API's log stream as `line` events, or one `problem` event when it could not open. */
function logEvents(res: Response): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  if (!res.ok || !res.body) {
    return new ReadableStream({
      async start(controller) {
        const error = await res.json().catch(() => undefined);
        const message = error?.error?.message ?? `the logs could not be read (${res.status})`;
        controller.enqueue(encoder.encode(sseEvent("problem", message)));
        controller.close();
      },
    });
  }
  let pending = "";
  return res.body.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, Uint8Array>({
      transform(chunk, controller) {
        const lines = (pending + chunk).split("\n");
        pending = lines.pop() ?? "";
        // Output without newlines (progress bars, binary) is shown in pieces, not held whole.
        if (pending.length > MAX_LINE) {
          lines.push(pending);
          pending = "";
        }
        if (lines.length) controller.enqueue(encoder.encode(sseEvent("lines", lines.join("\n"))));
      },
      flush(controller) {
        if (pending) controller.enqueue(encoder.encode(sseEvent("lines", pending)));
        controller.enqueue(encoder.encode(sseEvent("end", "the log stream ended")));
      },
    }),
  );
}
