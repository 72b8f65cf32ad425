/**
 * The app catalog's pages: the apps, and one app with what it is, where it runs, what it keeps,
 * and the small form of its settings. Installing deploys the app's compose file with the
 * settings as its variables through the same dry run, preview and deploy as a pasted file.
 * @module
 */
import type { Context, Hono } from "hono";
import type { DeployAnswer } from "../cli/api_types.ts";
import type { CatalogApp, CatalogSetting } from "./catalog.ts";
import { loadCatalog } from "./catalog.ts";
import type { Signed, UiContext } from "./context.ts";
import { deploy, DeployDone, DeployPreview, type FieldProblem, problemsOf } from "./deploy.tsx";
import { Csrf, Layout, Problem } from "./layout.tsx";

const ZONES = (() => {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["Etc/UTC"];
  }
})();

function CatalogList(props: { apps: CatalogApp[]; signed: Signed }) {
  return (
    <Layout title="Apps" csrf={props.signed.csrf} section="catalog">
      <h1>Apps</h1>
      <p>
        Well-known home services, ready to install. Each is a plain compose file: the Deploy page
        takes the same files.
      </p>
      <ul class="cards">
        {props.apps.map((app) => (
          <li>
            <h2>
              <a href={`/catalog/${app.id}`}>{app.title}</a>
            </h2>
            <p>{app.about}</p>
            <p class="hint">{`Runs on ${app.arch.join(", ")}`}</p>
          </li>
        ))}
      </ul>
    </Layout>
  );
}

function SettingField(props: { s: CatalogSetting; value?: string; problems: string[] }) {
  const { s } = props;
  const id = `set-${s.name}`;
  const value = props.value ?? s.default ?? "";
  const described = [s.help ? `${id}-hint` : "", props.problems.length ? `${id}-problem` : ""]
    .filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name: `set.${s.name}`,
    "aria-describedby": described,
    "aria-invalid": props.problems.length ? "true" : undefined,
  };
  return (
    <>
      <label for={id}>{s.label}</label>
      {s.help && <div class="hint" id={`${id}-hint`}>{s.help}</div>}
      {s.kind === "choice" || s.kind === "timezone"
        ? (
          <select {...common}>
            {(s.kind === "choice" ? s.options ?? [] : ZONES).map((o) => (
              <option value={o} selected={o === value}>{o}</option>
            ))}
          </select>
        )
        : (
          <input
            {...common}
            type={s.kind === "password" ? "password" : "text"}
            value={value}
            required={s.default === undefined}
            autocomplete={s.kind === "password" ? "new-password" : "off"}
          />
        )}
      {props.problems.length > 0 && (
        <div class="problem" id={`${id}-problem`}>{props.problems.join(" ")}</div>
      )}
    </>
  );
}

function AppPage(props: {
  app: CatalogApp;
  domain: string;
  signed: Signed;
  stack: string;
  values: Record<string, string>;
  problems?: FieldProblem[];
  preview?: DeployAnswer;
  done?: DeployAnswer;
}) {
  const { app } = props;
  const problems = props.problems ?? [];
  const mentions = (name: string) => new RegExp(`\\b${name}\\b`);
  const forSetting = (s: CatalogSetting) =>
    problems.filter((p) => mentions(s.name).test(p.message)).map((p) =>
      p.message.includes(s.name) ? `${s.label}: ${p.message}` : p.message
    );
  const other = problems.filter((p) => !app.settings.some((s) => mentions(s.name).test(p.message)));
  const hidden: Record<string, string> = { stack: props.stack };
  for (const s of app.settings) hidden[`set.${s.name}`] = props.values[s.name] ?? s.default ?? "";
  return (
    <Layout title={app.title} csrf={props.signed.csrf} section="catalog">
      <h1>{app.title}</h1>
      <p>{app.about}</p>
      <dl>
        <dt>Runs on</dt>
        <dd>{app.arch.join(", ")}</dd>
        <dt>Images</dt>
        <dd>{app.images.join(", ")}</dd>
        <dt>Keeps its data in</dt>
        <dd>{app.volumes.length ? `volumes ${app.volumes.join(", ")}` : "no volume"}</dd>
        {app.hostPaths.length > 0 && (
          <>
            <dt>Host paths</dt>
            <dd>{`${app.hostPaths.join("; ")} (it runs only on nodes that have them)`}</dd>
          </>
        )}
        {app.website && (
          <>
            <dt>Website</dt>
            <dd>
              <a href={app.website} rel="noreferrer">{app.website}</a>
            </dd>
          </>
        )}
      </dl>
      {props.done && <DeployDone answer={props.done} />}
      {props.preview && (
        <DeployPreview
          answer={props.preview}
          signed={props.signed}
          action={`/catalog/${app.id}`}
          hidden={hidden}
        />
      )}
      {!props.preview && !props.done && (
        <>
          <h2>Install</h2>
          {problems.length > 0 && (
            <Problem text="Nothing was installed: fix what is shown below." />
          )}
          {other.length > 0 && (
            <ul class="problem">
              {other.map((p) => <li>{p.path ? `${p.path}: ${p.message}` : p.message}</li>)}
            </ul>
          )}
          <form method="post" action={`/catalog/${app.id}`}>
            <Csrf token={props.signed.csrf} />
            <label for="stack">Name</label>
            <div class="hint" id="stack-hint">
              {`Lower-case letters, digits and dashes: it is served at http://NAME.${props.domain}/.`}
            </div>
            <input
              id="stack"
              name="stack"
              value={props.stack}
              required
              aria-describedby="stack-hint"
            />
            {app.settings.map((s) => (
              <SettingField s={s} value={props.values[s.name]} problems={forSetting(s)} />
            ))}
            <button type="submit" name="step" value="preview">Check and preview</button>
          </form>
          <details>
            <summary>The compose file</summary>
            <pre>{app.file}</pre>
          </details>
        </>
      )}
    </Layout>
  );
}

/** Adds `/catalog` and the apps' pages. */
export function addCatalogPages(app: Hono, ctx: UiContext): void {
  const catalog = ctx.deps.catalog ?? loadCatalog();
  const find = (id: string) => catalog.apps.find((a) => a.id === id);
  const notFound = (c: Context, s: Signed) =>
    ctx.apiFailed(c, s, "catalog", 404, "The catalog has no such app. Pick one from the list.");

  app.get("/catalog", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    return c.html(<CatalogList apps={catalog.apps} signed={s} />);
  });
  app.get("/catalog/:id", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    const entry = find(c.req.param("id"));
    if (!entry) return notFound(c, s);
    return c.html(
      <AppPage app={entry} domain={ctx.deps.domain} signed={s} stack={entry.id} values={{}} />,
    );
  });
  app.post("/catalog/:id", async (c) => {
    const p = await ctx.posted(c, 64 * 1024);
    if (p instanceof Response) return p;
    const entry = find(c.req.param("id"));
    if (!entry) return notFound(c, p.signed);
    const stack = (p.form.stack ?? "").trim() || entry.id;
    const values: Record<string, string> = {};
    for (const s of entry.settings) {
      const v = p.form[`set.${s.name}`];
      // An empty field is no value: a default or a required setting's problem applies.
      if (v !== undefined && v !== "") values[s.name] = v;
    }
    const page = (more: Partial<Parameters<typeof AppPage>[0]>, status = 200) =>
      c.html(
        <AppPage
          app={entry}
          domain={ctx.deps.domain}
          signed={p.signed}
          stack={stack}
          values={values}
          {...more}
        />,
        status as 200,
      );
    if (p.form.step === "edit") return page({});
    const answer = await deploy(ctx, {
      file: entry.file,
      filename: `${entry.id}.yml`,
      stack,
      variables: { ...values, FOSSORA_STACK: stack, FOSSORA_DOMAIN: ctx.deps.domain },
    }, p.form.step !== "apply");
    if (!answer.ok) return page({ problems: problemsOf(answer) }, answer.status);
    if (p.form.step === "apply") return page({ done: answer.body });
    return page({ preview: answer.body });
  });
}
