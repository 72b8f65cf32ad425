/**
 * The nodes: how to add a machine (the join token and the one line to run), nodes waiting for
 * approval, every node by site, the admission history; one node in detail, with drain, removal
 * of a node that is gone, and leaving for the node that serves the page.
 * @module
 */
import type { Context, Hono } from "hono";
import { raw } from "hono/html";
import type { NodeSummary, ServiceSummary } from "../api/mod.ts";
import type { Signed, UiContext } from "./context.ts";
import { Ago, Csrf, Layout, Problem, Scroll, State } from "./layout.tsx";
import { NodesBySite, NodeUsage } from "./overview.tsx";
import { pendingNodes } from "./warnings.ts";

/** One line of the admission log as the API answers it. */
interface AdmissionLine {
  at: number;
  name: string;
  event: string;
  detail?: string;
}

/** Admission events shown, newest first. */
const HISTORY = 50;

function NodesBody(
  props: { nodes: NodeSummary[]; admission: AdmissionLine[] | string; signed: Signed },
) {
  const log = typeof props.admission === "string" ? [] : props.admission;
  const pending = pendingNodes(log);
  return (
    <>
      {pending.length > 0 && (
        <section id="pending" aria-label="Waiting for approval">
          <h2>Waiting for your approval</h2>
          <ul>
            {pending.map((name) => (
              <li>
                {`${name} asks to join. `}
                <form
                  method="post"
                  action={`/nodes/${encodeURIComponent(name)}/approve`}
                  class="inline"
                >
                  <Csrf token={props.signed.csrf} />
                  <button type="submit">{`Approve ${name}`}</button>
                </form>
              </li>
            ))}
          </ul>
        </section>
      )}
      <h2>Each node</h2>
      <NodesBySite nodes={props.nodes} />
    </>
  );
}

/** The admission log, newest first, folded: it is long and rarely needed. */
function History(props: { admission: AdmissionLine[] | string; now: number }) {
  const log = typeof props.admission === "string" ? [] : props.admission;
  return (
    <details>
      <summary>
        <h2 class="summary">Admission history</h2>
      </summary>
      {typeof props.admission === "string"
        ? (
          <p class="problem">
            {`The admission history cannot be read right now (${props.admission}); nodes waiting for approval are not shown either.`}
          </p>
        )
        : log.length === 0
        ? <p>Nothing yet.</p>
        : (
          <Scroll label="Admission history">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Node</th>
                  <th scope="col">What</th>
                </tr>
              </thead>
              <tbody>
                {[...log].sort((a, b) => b.at - a.at).slice(0, HISTORY).map((e) => (
                  <tr>
                    <td data-label="When">
                      <Ago at={e.at} now={props.now} />
                    </td>
                    <td data-label="Node">{e.name}</td>
                    <td data-label="What">
                      {e.event}
                      {e.detail ? `: ${e.detail}` : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
        )}
    </details>
  );
}

function JoinCard(props: { token?: string; join?: string }) {
  if (!props.token) return <p class="hint">The join token cannot be read right now.</p>;
  const line = `fossora agent --join ${props.join ?? "NODE_ADDRESS:7440"} --token ${props.token}`;
  return (
    <>
      <h2>Add a machine</h2>
      <p>
        On a new machine with fossora installed, run this line as root. It joins the cluster when
        its turn comes, one machine at a time.
      </p>
      <pre id="join-line">{line}</pre>
      <button type="button" class="quiet" data-copy="join-line">Copy the line</button>
      <p class="hint">
        The token lets any machine that has it into the cluster: keep it like a password.
      </p>
    </>
  );
}

function NodePage(props: {
  n: NodeSummary;
  /** Its services, or why they cannot be read. */
  services: ServiceSummary[] | string;
  signed: Signed;
  here: boolean;
  now: number;
  problem?: string;
}) {
  const { n, signed } = props;
  const path = `/nodes/${encodeURIComponent(n.name)}`;
  const gone = n.state === "down" || n.state === "left";
  return (
    <Layout title={n.name} csrf={signed.csrf} section="nodes">
      <h1>{n.name}</h1>
      <Problem text={props.problem} />
      <dl>
        <dt>State</dt>
        <dd>
          <State state={n.state} />
          {n.drained ? " (drained: it takes no services)" : ""}
        </dd>
        <dt>Role</dt>
        <dd>
          {n.role === "voter"
            ? "voter (keeps a copy of the cluster's state and votes)"
            : n.role === "learner"
            ? "learner (becoming a voter)"
            : "worker (runs services)"}
        </dd>
        <dt>Address</dt>
        <dd>{n.address}</dd>
        <dt>Site</dt>
        <dd>{n.site}</dd>
        <NodeUsage n={n} freeDisk />
        <dt>Version</dt>
        <dd>{n.version || "—"}</dd>
        <dt>Last seen</dt>
        <dd>
          <Ago at={n.lastSeen} now={props.now} />
        </dd>
        {Object.keys(n.labels).length > 0 && (
          <>
            <dt>Labels</dt>
            <dd>{Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(", ")}</dd>
          </>
        )}
      </dl>
      <h2>Services here</h2>
      {typeof props.services === "string"
        ? <p class="problem">{`They cannot be read right now (${props.services}).`}</p>
        : props.services.length === 0
        ? <p>None.</p>
        : (
          <ul>
            {props.services.map((s) => (
              <li>
                <a href={`/services/${encodeURIComponent(s.name)}`}>{s.name}</a>
              </li>
            ))}
          </ul>
        )}
      <h2>Actions</h2>
      <div class="actions">
        {!gone && (
          <form method="post" action={`${path}/${n.drained ? "undrain" : "drain"}`}>
            <Csrf token={signed.csrf} />
            <button type="submit" class="quiet">
              {n.drained ? "Take services again" : "Drain (move its services away)"}
            </button>
          </form>
        )}
        {gone && <a class="button danger" href={`${path}/remove`}>Remove this node</a>}
        {!gone && <a class="button danger" href={`${path}/leave`}>Leave the cluster</a>}
      </div>
    </Layout>
  );
}

function Confirm(props: {
  signed: Signed;
  title: string;
  text: string;
  action: string;
  button: string;
  back: string;
}) {
  return (
    <Layout title={props.title} csrf={props.signed.csrf} section="nodes">
      <h1>{props.title}</h1>
      <p>{props.text}</p>
      <form method="post" action={props.action}>
        <Csrf token={props.signed.csrf} />
        <button type="submit" class="danger">{props.button}</button>
        <a class="button quiet" href={props.back}>Cancel</a>
      </form>
    </Layout>
  );
}

/** Adds `/nodes` and the node pages. */
export function addNodePages(app: Hono, ctx: UiContext): void {
  const now = ctx.deps.now ?? Date.now;
  const nodes = async () => {
    const answer = await ctx.call<{ nodes: NodeSummary[] }>("GET", "/api/v1/nodes");
    if (!answer.ok) throw new Error(answer.error.message);
    return answer.body.nodes;
  };
  /** The admission log, or why it cannot be read. */
  const admission = async (): Promise<AdmissionLine[] | string> => {
    const answer = await ctx.call<{ events: AdmissionLine[] }>("GET", "/api/v1/admission");
    return answer.ok ? answer.body.events : answer.error.message;
  };
  const body = async (signed: Signed) =>
    String(
      await (
        <NodesBody
          nodes={await nodes()}
          admission={await admission()}
          signed={signed}
        />
      ),
    );

  app.get("/nodes", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    let html: string;
    try {
      html = await body(s);
    } catch (err) {
      return ctx.failed(c, s, "nodes", err);
    }
    const token = await ctx.call<{ token: string; join?: string }>("GET", "/api/v1/token");
    return c.html(
      <Layout title="Nodes" csrf={s.csrf} section="nodes">
        <h1>Nodes</h1>
        <div data-live="/live/nodes">{raw(html)}</div>
        <JoinCard {...(token.ok ? token.body : {})} />
        <History admission={await admission()} now={now()} />
        <h2>Sessions</h2>
        <p>
          Lost a phone, or logged in on a device that is not yours? End every session of this UI, on
          every node; everyone logs in again.
        </p>
        <form method="post" action="/logout">
          <Csrf token={s.csrf} />
          <input type="hidden" name="everywhere" value="1" />
          <button type="submit" class="danger">Log out everywhere</button>
        </form>
      </Layout>,
    );
  });
  app.get("/live/nodes", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    return ctx.live(c, () => body(s));
  });

  const page = async (c: Context, s: Signed, name: string, problem?: string, status = 200) => {
    let all: NodeSummary[];
    try {
      all = await nodes();
    } catch (err) {
      return ctx.failed(c, s, "nodes", err);
    }
    const n = all.find((x) => x.name === name);
    if (!n) return ctx.apiFailed(c, s, "nodes", 404, `The cluster has no node named ${name}.`);
    const services = await ctx.call<{ services: ServiceSummary[] }>("GET", "/api/v1/services");
    return c.html(
      <NodePage
        n={n}
        services={services.ok
          ? services.body.services.filter((x) => x.nodes.includes(n.name))
          : services.error.message}
        signed={s}
        here={n.name === ctx.deps.nodeName}
        now={now()}
        problem={problem}
      />,
      status as 200,
    );
  };
  app.get("/nodes/:name", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    return page(c, s, c.req.param("name"));
  });

  const confirm = (kind: "remove" | "leave") => async (c: Context) => {
    const here = c.req.param("name") === ctx.deps.nodeName;
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    const name = c.req.param("name")!;
    const path = `/nodes/${encodeURIComponent(name)}`;
    return c.html(
      kind === "remove"
        ? (
          <Confirm
            signed={s}
            title={`Remove ${name}?`}
            text={`The cluster forgets ${name}: its vote, if it had one, and its place. Do this only when it is gone for good; a machine that comes back must join again.`}
            action={`${path}/remove`}
            button={`Remove ${name}`}
            back={path}
          />
        )
        : (
          <Confirm
            signed={s}
            title={`Make ${name} leave?`}
            text={here
              ? "Its services move to other nodes first, then it leaves the cluster and stops serving. This page stops answering when it is done: use another node's UI after."
              : `Its services move to other nodes first, then ${name} leaves the cluster and its agent stops. This can take a few minutes.`}
            action={`${path}/leave`}
            button={`${name} leaves the cluster`}
            back={path}
          />
        ),
    );
  };
  app.get("/nodes/:name/remove", confirm("remove"));
  app.get("/nodes/:name/leave", confirm("leave"));

  const act =
    (what: "approve" | "drain" | "undrain" | "remove" | "leave") => async (c: Context) => {
      const p = await ctx.posted(c);
      if (p instanceof Response) return p;
      const name = c.req.param("name")!;
      const node = encodeURIComponent(name);
      const answer = what === "remove"
        ? await ctx.call("DELETE", `/api/v1/nodes/${node}`)
        : await ctx.call("POST", `/api/v1/nodes/${node}/${what}`);
      if (!answer.ok) {
        if (what === "approve") {
          return ctx.apiFailed(c, p.signed, "nodes", answer.status, answer.error.message);
        }
        return page(c, p.signed, name, answer.error.message, answer.status);
      }
      return c.redirect(what === "drain" || what === "undrain" ? `/nodes/${node}` : "/nodes", 303);
    };
  for (const what of ["approve", "drain", "undrain", "remove", "leave"] as const) {
    app.post(`/nodes/:name/${what}`, act(what));
  }
}
