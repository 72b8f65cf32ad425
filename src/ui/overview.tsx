/**
 * The overview: warnings first, then the nodes by site with what they use, then the stacks and
 * services with their state; kept current by server-sent events.
 * @module
 */
import type { Hono } from "hono";
import { raw } from "hono/html";
import type { ClusterSummary, NodeSummary, ServiceSummary } from "../api/mod.ts";
import type { StacksAnswer, StackSummary } from "../cli/api_types.ts";
import type { UiContext } from "./context.ts";
import { bytes, Layout, Scroll, State } from "./layout.tsx";
import { type AdmissionLine, clusterWarnings, type Warning } from "./warnings.ts";

/** What the overview shows, read from the API. */
interface OverviewData {
  cluster?: ClusterSummary;
  nodes: NodeSummary[];
  services: ServiceSummary[];
  stacks: StackSummary[];
  warnings: Warning[];
}

async function overviewData(ctx: UiContext, now: number): Promise<OverviewData> {
  const [cluster, nodes, services, stacks, admission] = await Promise.all([
    ctx.call<ClusterSummary>("GET", "/api/v1/cluster"),
    ctx.call<{ nodes: NodeSummary[] }>("GET", "/api/v1/nodes"),
    ctx.call<{ services: ServiceSummary[] }>("GET", "/api/v1/services"),
    ctx.call<StacksAnswer>("GET", "/api/v1/stacks"),
    ctx.call<{ events: AdmissionLine[] }>("GET", "/api/v1/admission"),
  ]);
  if (!nodes.ok) throw new Error(nodes.error.message);
  if (!services.ok) throw new Error(services.error.message);
  const data = {
    cluster: cluster.ok ? cluster.body : undefined,
    nodes: nodes.body.nodes,
    services: services.body.services,
  };
  // What could not be read is said, so that no warning goes missing without a word.
  const unread: Warning[] = [
    [cluster, "The cluster's health (its voters and quorum)"],
    [stacks, "The stacks"],
    [admission, "The list of nodes asking to join"],
  ].flatMap(([answer, what]) => {
    const a = answer as { ok: boolean; error?: { message: string } };
    return a.ok ? [] : [{
      level: "bad" as const,
      text: `${what} could not be read just now (${a.error!.message}); this page may be ` +
        "missing warnings about it.",
    }];
  });
  return {
    ...data,
    stacks: stacks.ok ? stacks.body.stacks : [],
    warnings: [
      ...unread,
      ...clusterWarnings({
        ...data,
        admission: admission.ok ? admission.body.events : undefined,
        now,
      }),
    ],
  };
}

/** The list of warnings, or a line saying all is well. */
export function Warnings(props: { warnings: Warning[] }) {
  if (props.warnings.length === 0) {
    return <p>All is well: every node is up and every service runs as asked.</p>;
  }
  return (
    <ul class="warnings">
      {props.warnings.map((w) => (
        <li class={w.level}>
          {w.text} {w.href && <a href={w.href}>See more</a>}
        </li>
      ))}
    </ul>
  );
}

/** A node's load, memory and disk in a few words. */
function usageText(n: NodeSummary): { cpu: string; memory: string; disk: string } {
  const u = n.usage;
  const cpus = n.capacity?.cpus;
  return {
    cpu: !u
      ? "—"
      : u.load <= 1
      ? `${Math.round(u.load * 100)}% of ${cpus ?? "?"} CPU${cpus === 1 ? "" : "s"}`
      // More work waits than the CPUs can do at once: the load average says how much.
      : `overloaded: load ${(u.load * (cpus ?? 1)).toFixed(1)} on ${cpus ?? "?"} CPUs`,
    memory: u && n.capacity ? `${bytes(u.memoryUsed)} of ${bytes(n.capacity.memory)}` : "—",
    disk: u ? `${bytes(u.disk.total - u.disk.free)} of ${bytes(u.disk.total)}` : "—",
  };
}

/** A node's arch and what it uses, as `dt`/`dd` pairs of a list. */
export function NodeUsage(props: { n: NodeSummary; freeDisk?: boolean }) {
  const { n } = props;
  const u = usageText(n);
  return (
    <>
      <dt>Arch</dt>
      <dd>{n.arch}</dd>
      <dt>CPU</dt>
      <dd>{u.cpu}</dd>
      <dt>Memory</dt>
      <dd>{u.memory}</dd>
      <dt>Disk</dt>
      <dd>
        {props.freeDisk && n.usage ? `${u.disk} used, ${bytes(n.usage.disk.free)} free` : u.disk}
      </dd>
    </>
  );
}

/** Nodes grouped by site. */
export function NodesBySite(props: { nodes: NodeSummary[] }) {
  const sites = new Map<string, NodeSummary[]>();
  for (const n of props.nodes) sites.set(n.site, [...sites.get(n.site) ?? [], n]);
  return (
    <>
      {[...sites].map(([site, nodes]) => (
        <section aria-label={`Site ${site}`}>
          {sites.size > 1 || site !== "default" ? <h3>{`Site ${site}`}</h3> : null}
          <ul class="cards">
            {nodes.map((n) => {
              return (
                <li>
                  <h3>
                    <a href={`/nodes/${encodeURIComponent(n.name)}`}>{n.name}</a>
                  </h3>
                  <dl>
                    <dt>State</dt>
                    <dd>
                      <State state={n.state} />
                      {n.drained ? " (drained)" : ""}
                    </dd>
                    <dt>Role</dt>
                    <dd>{n.role}</dd>
                    <NodeUsage n={n} />
                  </dl>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </>
  );
}

/** Services in a table: by stack, then by name. */
export function ServiceTable(props: { services: ServiceSummary[] }) {
  if (props.services.length === 0) {
    return (
      <p>
        No services yet. <a href="/catalog">Install an app</a> or{" "}
        <a href="/deploy">deploy a compose file</a>.
      </p>
    );
  }
  const sorted = [...props.services].sort((a, b) =>
    (a.stack ?? "").localeCompare(b.stack ?? "") || a.name.localeCompare(b.name)
  );
  return (
    <Scroll label="Services">
      <table>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">Stack</th>
            <th scope="col">State</th>
            <th scope="col">Ready</th>
            <th scope="col">Nodes</th>
            <th scope="col">Address</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((s) => (
            <tr>
              <td data-label="Service">
                <a href={`/services/${encodeURIComponent(s.name)}`}>{s.name}</a>
              </td>
              <td data-label="Stack">{s.stack ?? "—"}</td>
              <td data-label="State">
                <State state={s.state} />
                {s.problem && <div class="hint">{s.problem}</div>}
              </td>
              <td data-label="Ready">{`${s.ready} of ${s.replicas}`}</td>
              <td data-label="Nodes">{s.nodes.join(", ") || "—"}</td>
              <td data-label="Address">{s.url ? <a href={s.url}>{s.url}</a> : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Scroll>
  );
}

function OverviewBody(props: { data: OverviewData }) {
  const { data } = props;
  return (
    <>
      <h2>What needs you</h2>
      <Warnings warnings={data.warnings} />
      <h2>Nodes</h2>
      <NodesBySite nodes={data.nodes} />
      {data.stacks.length > 0 && (
        <>
          <h2>Stacks</h2>
          <Scroll label="Stacks">
            <table>
              <thead>
                <tr>
                  <th scope="col">Stack</th>
                  <th scope="col">State</th>
                  <th scope="col">Services</th>
                  <th scope="col">Address</th>
                </tr>
              </thead>
              <tbody>
                {data.stacks.map((st) => (
                  <tr>
                    <td data-label="Stack">{st.name}</td>
                    <td data-label="State">
                      <State state={st.state} />
                    </td>
                    <td data-label="Services">{st.services.length}</td>
                    <td data-label="Address">{st.url ? <a href={st.url}>{st.url}</a> : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
        </>
      )}
      <h2>Services</h2>
      <ServiceTable services={data.services} />
    </>
  );
}

/** Adds `/` and its live region. */
export function addOverviewRoutes(app: Hono, ctx: UiContext): void {
  const now = ctx.deps.now ?? Date.now;
  const render = async () => String(await <OverviewBody data={await overviewData(ctx, now())} />);
  app.get("/", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    let body: string;
    try {
      body = await render();
    } catch (err) {
      return ctx.failed(c, s, "overview", err);
    }
    return c.html(
      <Layout title="Overview" csrf={s.csrf} section="overview">
        <h1>Your cluster</h1>
        <p class="hint">{`Served by ${ctx.deps.nodeName}. Every node serves this page.`}</p>
        <div data-live="/live/overview">{raw(body)}</div>
      </Layout>,
    );
  });
  app.get("/live/overview", (c) => ctx.live(c, render));
}
