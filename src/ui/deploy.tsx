/**
 * The Deploy page: a form for one service's common fields, or a text box for a fossora
 * service file or a docker-compose.yml with its variables. Both go to the API's stack deploy
 * twice: first as a dry run, whose problems are shown beside the field or line they concern and
 * whose warnings and changes are shown before the person confirms; then for real.
 * @module
 */
import type { Context, Hono } from "hono";
import type { DeployAnswer } from "../cli/api_types.ts";
import type { ApiAnswer, Signed, UiContext } from "./context.ts";
import { Csrf, Layout, Problem } from "./layout.tsx";
import { LineFinder } from "./lines.ts";

/** What `POST /api/v1/stacks` takes. */
export interface DeployRequest {
  file: string;
  filename?: string;
  stack?: string;
  variables: Record<string, string>;
}

/** Largest form taken: a compose file at the API's limit, URL-encoded. */
export const MAX_DEPLOY_FORM = 3 * 1024 * 1024;

/** Sends `request` to the API as a dry run or for real. */
export function deploy(
  ctx: UiContext,
  request: DeployRequest,
  dryRun: boolean,
): Promise<ApiAnswer<DeployAnswer>> {
  return ctx.call<DeployAnswer>("POST", `/api/v1/stacks${dryRun ? "?dryRun=1" : ""}`, request);
}

/** One problem as the API gives it. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** The problems of a refused deploy: its details, or its message when it has none. */
export function problemsOf(answer: ApiAnswer<unknown>): FieldProblem[] {
  if (answer.ok) return [];
  const details = answer.error.details.filter((d) => typeof d?.message === "string")
    .map((d) => ({ path: d.path ?? "", message: d.message! }));
  return details.length ? details : [{ path: "", message: answer.error.message }];
}

/** What a dry run says will happen, with the form that confirms it. */
export function DeployPreview(props: {
  answer: DeployAnswer;
  signed: Signed;
  action: string;
  /** The fields that are sent again to deploy for real. */
  hidden: Record<string, string>;
}) {
  const { answer } = props;
  const created = answer.services.filter((s) => s.created);
  const changed = answer.services.filter((s) => !s.created && s.changed);
  const same = answer.services.filter((s) => !s.created && !s.changed);
  return (
    <>
      <h2>What this deploy does</h2>
      {answer.stack && <p>{`Stack ${answer.stack}.`}</p>}
      {answer.warnings.length > 0 && (
        <>
          <h3>Warnings</h3>
          <ul class="warnings">
            {answer.warnings.map((w) => <li>{w}</li>)}
          </ul>
        </>
      )}
      <ul>
        {created.map((s) => <li>{`${s.name}: new`}</li>)}
        {changed.map((s) => (
          <li>
            {`${s.name}: changes`}
            {s.rolls ? ", and its replicas are replaced one at a time" : ", without restarting"}
            <ul>
              {(s.changes ?? []).map((c) => (
                <li>
                  <code>{c.path}</code>
                  {secretPath(c.path)
                    ? (c.after === undefined ? " removed" : " changes (its value is not shown)")
                    : `${c.before === undefined ? "" : ` from ${c.before}`}${
                      c.after === undefined ? " removed" : ` to ${c.after}`
                    }`}
                </li>
              ))}
            </ul>
          </li>
        ))}
        {same.map((s) => <li>{`${s.name}: unchanged`}</li>)}
        {(answer.removed ?? []).map((name) => <li>{`${name}: removed (no longer in the file)`}
        </li>)}
      </ul>
      <form method="post" action={props.action}>
        <Csrf token={props.signed.csrf} />
        {Object.entries(props.hidden).map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <button type="submit" name="step" value="apply">
          {changed.length || created.length ? "Deploy" : "Deploy anyway"}
        </button>
        <button type="submit" name="step" value="edit" class="quiet">Back to edit</button>
      </form>
    </>
  );
}

/** An environment variable whose name says it holds a secret: its values are not shown. */
export function secretPath(path: string): boolean {
  return /^env[.[]/.test(path) && /pass|secret|token|key|auth|credential/i.test(path);
}

/** After a deploy: what was done, with links to the services. */
export function DeployDone(props: { answer: DeployAnswer }) {
  return (
    <>
      <p role="status">
        {`Deployed${props.answer.stack ? ` stack ${props.answer.stack}` : ""}. `}
        The services start on the nodes the cluster chose; their pages show how they are doing.
      </p>
      <ul>
        {props.answer.services.map((s) => (
          <li>
            <a href={`/services/${encodeURIComponent(s.name)}`}>{s.name}</a>
            {s.created ? " (new)" : s.changed ? " (updated)" : " (unchanged)"}
          </li>
        ))}
        {(props.answer.removed ?? []).map((name) => <li>{`${name} (removed)`}</li>)}
      </ul>
      {props.answer.warnings.length > 0 && (
        <ul class="warnings">
          {props.answer.warnings.map((w) => <li>{w}</li>)}
        </ul>
      )}
    </>
  );
}

/** Past this many lines, a refused file is shown only around its problems. */
const FULL_LISTING = 400;
const CONTEXT_LINES = 2;

/** The file with numbered lines and each problem under the line it concerns. */
export function Listing(props: { text: string; problems: FieldProblem[] }) {
  const finder = new LineFinder(props.text);
  const lines = props.text.replace(/\r?\n$/, "").split(/\r?\n/);
  const byLine = new Map<number, string[]>();
  const unplaced: FieldProblem[] = [];
  for (const p of props.problems) {
    // An error at the end of the file (an unclosed bracket) is about its last line.
    const found = finder.line(p.path, p.message);
    const line = found === undefined ? undefined : Math.min(found, lines.length);
    if (line === undefined) unplaced.push(p);
    else byLine.set(line, [...byLine.get(line) ?? [], said(p)]);
  }
  const shown = (n: number) =>
    lines.length <= FULL_LISTING ||
    [...byLine.keys()].some((l) => Math.abs(l - n) <= CONTEXT_LINES);
  return (
    <>
      {unplaced.length > 0 && (
        <ul class="problem" id="file-problems">
          {unplaced.map((p) => <li>{said(p)}</li>)}
        </ul>
      )}
      <ol class="listing" aria-label="The file, with its problems under their lines">
        {lines.map((text, i) =>
          shown(i + 1)
            ? (
              <li class={byLine.has(i + 1) ? "has-problem" : undefined} id={`line-${i + 1}`}>
                <span class="n">{i + 1}</span>
                <span>{text || " "}</span>
                {(byLine.get(i + 1) ?? []).map((m) => (
                  <span class="says">{`Line ${i + 1}: ${m}`}</span>
                ))}
              </li>
            )
            : null
        )}
      </ol>
    </>
  );
}

function said(p: FieldProblem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}

/** `KEY=VALUE` lines (blank lines and `#` comments skipped), or the first bad line's problem. */
export function readVariables(text: string): Record<string, string> | string {
  const vars: Record<string, string> = Object.create(null);
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) return `line ${i + 1} is not NAME=VALUE: ${JSON.stringify(line.slice(0, 40))}`;
    vars[m[1]] = m[2];
  }
  return vars;
}

/** The single-service form's fields, as typed. */
interface ServiceFields {
  name: string;
  image: string;
  port: string;
  replicas: string;
  environment: string;
  volumes: string;
}

/** Field ids of the service form by the first step of a problem's path. */
const FIELD_OF: Record<string, keyof ServiceFields> = {
  name: "name",
  image: "image",
  ports: "port",
  replicas: "replicas",
  env: "environment",
  environment: "environment",
  volumes: "volumes",
};

/** The fossora service file the form describes, or the problems of its own fields. */
function serviceFile(f: ServiceFields): { file: string } | { problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const environment = readVariables(f.environment);
  if (typeof environment === "string") problems.push({ path: "environment", message: environment });
  const volumes = f.volumes.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).map((l, i) => {
    const m = /^([a-z0-9][a-z0-9_-]*):(\/\S*)$/.exec(l);
    if (!m) {
      problems.push({
        path: "volumes",
        message: `line ${i + 1} is not NAME:/path/in/container (e.g. data:/var/lib/app)`,
      });
    }
    return m ? { name: m[1], path: m[2] } : undefined;
  });
  const port = f.port.trim();
  if (port && !/^\d{1,5}$/.test(port)) {
    problems.push({ path: "ports", message: "the web port is a number such as 8080" });
  }
  const replicas = f.replicas.trim() || "1";
  if (!/^\d{1,3}$/.test(replicas)) {
    problems.push({ path: "replicas", message: "replicas is a whole number from 0 to 100" });
  }
  if (problems.length) return { problems };
  return {
    file: JSON.stringify(
      {
        name: f.name.trim(),
        image: f.image.trim(),
        replicas: Number(replicas),
        ...(port ? { ports: [{ container: Number(port), http: true }] } : {}),
        ...(Object.keys(environment).length ? { env: environment } : {}),
        ...(volumes.length ? { volumes } : {}),
      },
      null,
      2,
    ),
  };
}

function Field(props: {
  id: string;
  label: string;
  value?: string;
  problems: string[];
  hint?: string;
  type?: string;
  required?: boolean;
  area?: boolean;
  rows?: number;
  placeholder?: string;
}) {
  const problemId = `${props.id}-problem`;
  const hintId = `${props.id}-hint`;
  const described = [props.problems.length ? problemId : "", props.hint ? hintId : ""]
    .filter(Boolean).join(" ") || undefined;
  return (
    <>
      <label for={props.id}>{props.label}</label>
      {props.hint && <div class="hint" id={hintId}>{props.hint}</div>}
      {props.area
        ? (
          <textarea
            id={props.id}
            name={props.id}
            rows={props.rows ?? 4}
            aria-describedby={described}
            aria-invalid={props.problems.length ? "true" : undefined}
            placeholder={props.placeholder}
            spellcheck={false}
          >
            {props.value ?? ""}
          </textarea>
        )
        : (
          <input
            id={props.id}
            name={props.id}
            type={props.type ?? "text"}
            value={props.value ?? ""}
            required={props.required}
            aria-describedby={described}
            aria-invalid={props.problems.length ? "true" : undefined}
            placeholder={props.placeholder}
          />
        )}
      {props.problems.length > 0 && (
        <div class="problem" id={problemId}>{props.problems.join(" ")}</div>
      )}
    </>
  );
}

/** What the Deploy page was sent, to show again with its problems. */
interface DeployInput {
  mode: "file" | "form";
  file: string;
  stack: string;
  variables: string;
  fields: ServiceFields;
}

const PLACEHOLDER = ["services:", "  web:", "    image: nginx:1.27", '    expose: ["80"]'].join(
  "\n",
);

const EMPTY: DeployInput = {
  mode: "file",
  file: "",
  stack: "",
  variables: "",
  fields: { name: "", image: "", port: "", replicas: "1", environment: "", volumes: "" },
};

function DeployPage(props: {
  signed: Signed;
  input: DeployInput;
  problems?: FieldProblem[];
  preview?: DeployAnswer;
  done?: DeployAnswer;
}) {
  const { input, signed } = props;
  const problems = props.problems ?? [];
  const fileProblems = input.mode === "file" ? problems : [];
  const formProblems = input.mode === "form" ? problems : [];
  const at = (field: keyof ServiceFields) =>
    formProblems.filter((p) => FIELD_OF[p.path.split(/[.[]/)[0]] === field).map(said);
  const formOther = formProblems.filter((p) => !FIELD_OF[p.path.split(/[.[]/)[0]]).map(said);
  const stackProblems = fileProblems.filter((p) => /stack name|--stack|\?stack/.test(p.message));
  const variableProblems = fileProblems.filter((p) => p.path === "variables");
  const listed = fileProblems.filter((p) =>
    !stackProblems.includes(p) && !variableProblems.includes(p)
  );
  return (
    <Layout title="Deploy" csrf={signed.csrf} section="deploy">
      <h1>Deploy</h1>
      {props.done && <DeployDone answer={props.done} />}
      {props.preview && (
        <DeployPreview
          answer={props.preview}
          signed={signed}
          action="/deploy"
          hidden={hiddenOf(input)}
        />
      )}
      {!props.preview && (
        <>
          {problems.length > 0 && (
            <Problem
              text={`Nothing was deployed: ${problems.length} problem${
                problems.length === 1 ? "" : "s"
              } to fix, shown below.`}
            />
          )}
          <h2>Paste a file</h2>
          <p class="hint">
            A docker-compose.yml, or a fossora service file (YAML or JSON). Nothing is deployed
            until you have seen what it does.
          </p>
          {listed.length > 0 && <Listing text={input.file} problems={listed} />}
          <form method="post" action="/deploy">
            <Csrf token={signed.csrf} />
            <input type="hidden" name="mode" value="file" />
            <Field
              id="file"
              label="File"
              area
              rows={14}
              value={input.file}
              problems={listed.length ? ["See the problems by line above."] : []}
              placeholder={PLACEHOLDER}
            />
            <Field
              id="stack"
              label="Stack name (for a compose file without name:)"
              value={input.stack}
              problems={stackProblems.map(said)}
            />
            <Field
              id="variables"
              label="Variables (NAME=value, one a line, as in .env)"
              area
              rows={3}
              value={input.variables}
              problems={variableProblems.map((p) => p.message)}
            />
            <button type="submit" name="step" value="preview">Check and preview</button>
          </form>
          <h2>Or describe one service</h2>
          <form method="post" action="/deploy">
            <Csrf token={signed.csrf} />
            <input type="hidden" name="mode" value="form" />
            {formOther.length > 0 && <Problem id="form-problem" text={formOther.join(" ")} />}
            <Field
              id="name"
              label="Name"
              value={input.fields.name}
              problems={at("name")}
              hint="Lower-case letters, digits and dashes: it becomes NAME.DOMAIN."
              required
            />
            <Field
              id="image"
              label="Image"
              value={input.fields.image}
              problems={at("image")}
              placeholder="nginx:1.27"
              required
            />
            <Field
              id="port"
              label="Web port in the container"
              value={input.fields.port}
              problems={at("port")}
              hint="Leave empty for a service with no web interface."
            />
            <Field
              id="replicas"
              label="Replicas"
              type="number"
              value={input.fields.replicas}
              problems={at("replicas")}
            />
            <Field
              id="environment"
              label="Environment (NAME=value, one a line)"
              area
              value={input.fields.environment}
              problems={at("environment")}
            />
            <Field
              id="volumes"
              label="Volumes (name:/path/in/container, one a line)"
              area
              rows={2}
              value={input.fields.volumes}
              problems={at("volumes")}
            />
            <button type="submit" name="step" value="preview">Check and preview</button>
          </form>
        </>
      )}
    </Layout>
  );
}

function hiddenOf(input: DeployInput): Record<string, string> {
  return input.mode === "file"
    ? { mode: "file", file: input.file, stack: input.stack, variables: input.variables }
    : { mode: "form", ...input.fields };
}

function inputOf(form: Record<string, string>): DeployInput {
  const text = (k: string) => form[k] ?? "";
  return {
    mode: form.mode === "form" ? "form" : "file",
    file: text("file"),
    stack: text("stack").trim(),
    variables: text("variables"),
    fields: {
      name: text("name"),
      image: text("image"),
      port: text("port"),
      replicas: text("replicas") || "1",
      environment: text("environment"),
      volumes: text("volumes"),
    },
  };
}

/** The request the input makes, or its own problems. */
function requestOf(input: DeployInput): DeployRequest | FieldProblem[] {
  if (input.mode === "form") {
    const built = serviceFile(input.fields);
    if ("problems" in built) return built.problems;
    return { file: built.file, filename: "service.json", variables: {} };
  }
  if (!input.file.trim()) return [{ path: "", message: "paste a file first" }];
  const variables = readVariables(input.variables);
  if (typeof variables === "string") return [{ path: "variables", message: variables }];
  return {
    file: input.file,
    ...(input.stack ? { stack: input.stack } : {}),
    variables,
  };
}

/** Adds `/deploy`. */
export function addDeployPages(app: Hono, ctx: UiContext): void {
  app.get("/deploy", async (c) => {
    const s = await ctx.signedIn(c);
    if (s instanceof Response) return s;
    return c.html(<DeployPage signed={s} input={EMPTY} />);
  });
  app.post("/deploy", async (c: Context) => {
    const p = await ctx.posted(c, MAX_DEPLOY_FORM);
    if (p instanceof Response) return p;
    const input = inputOf(p.form);
    const page = (more: Partial<Parameters<typeof DeployPage>[0]>, status = 200) =>
      c.html(<DeployPage signed={p.signed} input={input} {...more} />, status as 200);
    if (p.form.step === "edit") return page({});
    const request = requestOf(input);
    if (Array.isArray(request)) return page({ problems: request }, 400);
    const answer = await deploy(ctx, request, p.form.step !== "apply");
    if (!answer.ok) return page({ problems: problemsOf(answer) }, answer.status);
    if (p.form.step === "apply") return page({ done: answer.body, input: EMPTY });
    return page({ preview: answer.body });
  });
}
