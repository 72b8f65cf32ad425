/**
 * Reads a docker-compose file into the services of a stack, as `docker stack deploy` and
 * `docker compose up` read it: variables are filled in first (from the CLI's environment and
 * the `.env` beside the file), services in inactive profiles are left out, and each service
 * becomes `KEY.STACK` (compose_service.ts). Nothing is dropped silently: every key is mapped,
 * accepted with a warning, or reported as a problem by its path.
 *
 * At the top level: `name` names the stack (unless the deploy names it); `version` is obsolete;
 * `volumes` declares named volumes; `networks` are not needed (every service of a stack reaches
 * every other by name); `secrets` and `configs` come from files the CLI sent, from variables, or
 * (configs) from `content`; `x-*` keys are ignored.
 * @module
 */

import { isDnsLabel } from "../util/names.ts";
import { type Lookup, notUnderstood, sentFile } from "./compose_fields.ts";
import { composeService, dnsForm, type ServiceContext } from "./compose_service.ts";
import { fillVariables } from "./variables.ts";
import { entries, expected, isMapping, keyPath, type Problems } from "./problems.ts";
import type { Checked } from "./validate.ts";

/** What the caller collects: problems refuse the file, warnings are shown with the result. */
export interface ComposeOutput {
  problems: Problems;
  warnings: Problems;
}

/** What a compose file is read with, besides its text. */
export interface ComposeInput {
  /** The stack's name, when the deploy names it (`--stack`, `?stack=`); else the file's `name:`. */
  stack?: string;
  /** Variables for `${VAR}`: the CLI's environment and `.env`, only those the file uses. */
  variables?: Record<string, string>;
  /** Files the compose file names (env_file, secrets, configs), by the path written in it. */
  files?: Record<string, string>;
  /** Ports the agents use themselves, TCP and UDP, each with what uses it. */
  reservedPorts?: { tcp: ReadonlyMap<number, string>; udp: ReadonlyMap<number, string> };
}

/** A stack as read: its name and the contents of its secrets and configs. */
export interface StackFiles {
  name: string;
  /** Secret and config contents by name; secrets are never shown back. */
  files: Record<string, { secret: boolean; content: string }>;
}

const TOP_KEYS = ["services", "volumes", "networks", "secrets", "configs", "name", "version"];

/**
 * Reads a compose document. Returns the services as far as they checked out and the stack;
 * they are only usable when no problem was pushed.
 */
export function composeToStack(
  raw: Record<string, unknown>,
  input: ComposeInput,
  out: ComposeOutput,
): { services: Checked[]; stack?: StackFiles } {
  const lookup = variableLookup(input.variables ?? {});
  const doc = interpolateAll(raw, lookup, out) as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    // The app catalog's own block (src/ui/catalog.ts) says nothing to the importer.
    if (key === "x-fossora-app") continue;
    if (key.startsWith("x-")) {
      out.warnings.push({
        path: keyPath("", key),
        message: "is an extension field and is ignored",
      });
    } else if (!TOP_KEYS.includes(key)) notUnderstood("", key, out.problems);
  }
  if (doc.version !== undefined) {
    out.warnings.push({ path: "version", message: "is obsolete in compose files and is ignored" });
  }
  if (doc.networks !== undefined) {
    out.warnings.push({
      path: "networks",
      message: "are ignored: every service of the stack reaches every other by its name, on " +
        "any node, and nothing else reaches them",
    });
  }
  const stack = stackName(input.stack, doc.name, out.problems);
  const declaredVolumes = readVolumes(doc.volumes, out);
  const files: StackFiles["files"] = {};
  const secrets = readFiles(doc.secrets, "secrets", true, input.files ?? {}, lookup, files, out);
  const configs = readFiles(doc.configs, "configs", false, input.files ?? {}, lookup, files, out);
  const defs = isMapping(doc.services) ? doc.services : {};
  const active = activeProfiles(lookup);
  const keys = new Set(Object.keys(defs));
  const deployed = entries(defs).filter(([key, def]) => inActiveProfile(key, def, active, out));
  const notDeployed = new Set([...keys].filter((key) => !deployed.some(([k]) => k === key)));
  const ctx: ServiceContext = {
    stack: stack ?? "stack",
    lookup,
    files: input.files ?? {},
    declaredVolumes,
    secrets,
    configs,
    keys,
    notDeployed,
    volumeUsers: new Map(),
    out,
  };
  const services: Checked[] = [];
  for (const [key, def] of deployed) {
    const checked = composeService(key, def, ctx);
    if (checked !== undefined) services.push(checked);
  }
  checkLabelsUnique(services, out.problems);
  checkNoDependencyCycle(services, out.problems);
  markSharedVolumes(services);
  for (const name of declaredVolumes ?? []) {
    if (!ctx.volumeUsers.has(name)) {
      out.warnings.push({
        path: keyPath("volumes", name),
        message: "is declared but no service mounts it; it is ignored",
      });
    }
  }
  if (input.reservedPorts) unpublishReserved(services, input.reservedPorts, out.warnings);
  if (stack !== undefined) markFront(services, stack, out.problems);
  return { services, ...(stack === undefined ? {} : { stack: { name: stack, files } }) };
}

/** A lookup that also tells which variables were asked for and found unset. */
function variableLookup(variables: Record<string, string>): Lookup {
  return (name) => Object.hasOwn(variables, name) ? variables[name] : undefined;
}

/**
 * The document with every string value's variables filled in. Each unset variable is warned
 * about once, at the first place it is used.
 */
function interpolateAll(doc: unknown, lookup: Lookup, out: ComposeOutput): unknown {
  const unset = new Map<string, string>();
  const noted: Lookup = (name) => lookup(name);
  const walk = (value: unknown, path: string): unknown => {
    if (typeof value === "string") {
      if (!value.includes("$")) return value;
      const warnings: Problems = [];
      const filled = fillVariables(value, noted, path, out.problems, warnings);
      for (const warning of warnings) {
        const name = /variable (\S+)/.exec(warning.message)?.[1] ?? warning.message;
        if (!unset.has(name)) {
          unset.set(name, path);
          out.warnings.push(warning);
        }
      }
      return filled ?? value;
    }
    if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}[${i}]`));
    if (isMapping(value)) {
      const copy: Record<string, unknown> = {};
      for (const [key, item] of entries(value)) {
        Object.defineProperty(copy, key, {
          value: walk(item, keyPath(path, key)),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return copy;
    }
    return value;
  };
  return walk(doc, "");
}

/** The stack's name: the deploy's, else the file's `name:` (as a DNS label). */
function stackName(given: string | undefined, written: unknown, out: Problems): string | undefined {
  if (given !== undefined) {
    if (isDnsLabel(given) && given !== "node") return given;
    out.push({
      path: "",
      message: `stack name '${given}' must be a DNS label (a-z, 0-9, '-') other than 'node'`,
    });
    return undefined;
  }
  if (written === undefined) {
    out.push({
      path: "",
      message: "the stack has no name: deploy it with `fossora deploy FILE --stack NAME` (or " +
        "?stack=NAME), or add name: NAME at the top of the file",
    });
    return undefined;
  }
  const name = typeof written === "string" ? dnsForm(written) : "";
  if (!isDnsLabel(name) || name === "node") {
    out.push({ path: "name", message: `${expected("a project name such as nextcloud", written)}` });
    return undefined;
  }
  return name;
}

/** Top-level `volumes`: names; options Docker's volume drivers take are ignored, with a warning. */
function readVolumes(value: unknown, out: ComposeOutput): Set<string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMapping(value)) {
    out.problems.push({
      path: "volumes",
      message: expected("a mapping of volume name to its declaration, e.g. { data: {} }", value),
    });
    return undefined;
  }
  for (const [name, declaration] of entries(value)) {
    const path = keyPath("volumes", name);
    if (isMapping(declaration) && Object.keys(declaration).length > 0) {
      out.warnings.push({
        path,
        message: `${Object.keys(declaration).join(", ")} ${
          Object.keys(declaration).length === 1 ? "is" : "are"
        } ignored: fossora keeps the volume itself, on the node that runs the service`,
      });
    } else if (declaration !== null && !isMapping(declaration)) {
      out.problems.push({ path, message: expected("a declaration such as {}", declaration) });
    }
  }
  return new Set(Object.keys(value));
}

/** Top-level `secrets` or `configs`: names, with their contents put in `files`. */
function readFiles(
  value: unknown,
  key: "secrets" | "configs",
  secret: boolean,
  sent: Record<string, string>,
  lookup: Lookup,
  files: StackFiles["files"],
  out: ComposeOutput,
): Set<string> {
  const names = new Set<string>();
  if (value === undefined || value === null) return names;
  if (!isMapping(value)) {
    out.problems.push({
      path: key,
      message: expected("a mapping of name to { file: PATH }", value),
    });
    return names;
  }
  for (const [name, def] of entries(value)) {
    const path = keyPath(key, name);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name)) {
      out.problems.push({ path, message: "a name is letters, digits, '_', '.' and '-'" });
      continue;
    }
    names.add(name);
    let content: string | undefined;
    if (isMapping(def) && typeof def.file === "string") {
      content = sentFile(sent, def.file);
      if (content === undefined) {
        out.problems.push({
          path: keyPath(path, "file"),
          message: `${def.file} was not sent with the compose file: deploy with \`fossora ` +
            "deploy FILE\`, which reads it beside the file",
        });
      }
    } else if (isMapping(def) && typeof def.environment === "string") {
      content = lookup(def.environment);
      if (content === undefined) {
        out.problems.push({
          path: keyPath(path, "environment"),
          message: `the variable ${def.environment} is not set; set it in your environment or .env`,
        });
      }
    } else if (!secret && isMapping(def) && typeof def.content === "string") {
      content = def.content;
    } else {
      out.problems.push({
        path,
        message: isMapping(def) && def.external !== undefined
          ? "external ones are not supported: give the content with file: PATH"
          : expected(`{ file: PATH }${secret ? "" : " or { content: TEXT }"}`, def),
      });
    }
    if (content !== undefined) {
      files[`${key === "secrets" ? "secret" : "config"}:${name}`] = { secret, content };
    }
  }
  return names;
}

/** `COMPOSE_PROFILES`, as compose reads it. */
function activeProfiles(lookup: Lookup): Set<string> {
  return new Set(
    (lookup("COMPOSE_PROFILES") ?? "").split(",").map((p) => p.trim()).filter(Boolean),
  );
}

/** A service with `profiles` runs only when one of them is active, as with compose. */
function inActiveProfile(
  key: string,
  def: unknown,
  active: Set<string>,
  out: ComposeOutput,
): boolean {
  if (!isMapping(def) || def.profiles === undefined) return true;
  const path = keyPath(keyPath("services", key), "profiles");
  if (!Array.isArray(def.profiles) || !def.profiles.every((p) => typeof p === "string")) {
    out.problems.push({ path, message: expected("a list of profile names", def.profiles) });
    return false;
  }
  if (def.profiles.some((p) => active.has(p))) return true;
  out.warnings.push({
    path,
    message: `the service is not deployed: none of its profiles (${def.profiles.join(", ")}) is ` +
      "active; set COMPOSE_PROFILES to deploy it, as with docker compose",
  });
  return false;
}

/**
 * `depends_on` must not go round (a on b on a): each service would wait for the other for ever.
 * docker compose refuses such a file too.
 */
function checkNoDependencyCycle(services: Checked[], out: Problems): void {
  const deps = new Map(services.map((s) => [composeKey(s), s.spec.dependsOn ?? []]));
  const done = new Set<string>();
  const visit = (key: string, trail: string[]): string[] | undefined => {
    if (trail.includes(key)) return [...trail.slice(trail.indexOf(key)), key];
    if (done.has(key)) return undefined;
    for (const d of deps.get(key) ?? []) {
      const cycle = visit(d.service, [...trail, key]);
      if (cycle) return cycle;
    }
    done.add(key);
    return undefined;
  };
  for (const s of services) {
    const cycle = visit(composeKey(s), []);
    if (cycle) {
      out.push({
        path: keyPath(s.namePath, "depends_on"),
        message: `depends_on goes round (${cycle.join(" → ")}), so none of them would start; ` +
          "remove one of these dependencies",
      });
      return;
    }
  }
}

/** The compose key a service was read from (`services.KEY`). */
function composeKey(s: Checked): string {
  const m = /^services(?:\.(.+)|\[(".*")\])$/.exec(s.namePath);
  return m ? m[1] ?? JSON.parse(m[2]) : s.spec.name;
}

/** Two keys with one DNS form (`db_1`, `db-1`) would be one service. */
function checkLabelsUnique(services: Checked[], out: Problems): void {
  const seen = new Map<string, string>();
  for (const s of services) {
    if (s.namePath === "") continue;
    const earlier = seen.get(s.spec.name);
    if (earlier !== undefined) {
      out.push({
        path: s.namePath,
        message: `its DNS name is the same as ${earlier}'s; rename one of them`,
      });
      // Said once: the check across services would report the same name again.
      s.namePath = "";
    } else seen.set(s.spec.name, s.namePath);
  }
}

/**
 * A named volume that two services mount is one volume of the stack (`shared`), as under
 * compose: Nextcloud's app, cron and web all work on the same files.
 */
function markSharedVolumes(services: Checked[]): void {
  const users = new Map<string, Set<string>>();
  for (const s of services) {
    for (const v of s.spec.volumes) {
      users.set(v.name, (users.get(v.name) ?? new Set()).add(s.spec.name));
    }
  }
  for (const s of services) {
    for (const v of s.spec.volumes) if (users.get(v.name)!.size > 1) v.shared = true;
  }
}

/**
 * A port the agents use (80, 53, 7440, etcd's) cannot be published; a compose file that asks
 * for one (Pi-hole's 53, a web app's 80) still deploys, and the service is reached at its URL.
 */
function unpublishReserved(
  services: Checked[],
  reserved: NonNullable<ComposeInput["reservedPorts"]>,
  warnings: Problems,
): void {
  for (const s of services) {
    s.spec.ports.forEach((port, i) => {
      const published = port.published;
      if (published === undefined) return;
      const user = (port.protocol === "udp" ? reserved.udp : reserved.tcp).get(published);
      if (user === undefined) return;
      delete port.published;
      delete port.detectHttp;
      // What a file publishes on the proxy's own port is its web interface (Pi-hole's 80).
      if (user === "proxy" && !s.spec.ports.some((p) => p.http)) port.http = true;
      warnings.push({
        path: s.portPaths[i].published,
        message: `${port.protocol === "udp" ? "UDP port" : "port"} ${published} is fossora's ` +
          `own (${user}) on every node, so it is not published: ` +
          (port.http
            ? `the service is reached at http://${s.spec.name}.DOMAIN/ instead`
            : "the stack's services still reach it by name"),
      });
    });
    if (s.spec.ports.some((p) => p.http)) { for (const p of s.spec.ports) delete p.detectHttp; }
    // An unpublished port may now repeat a container-only one (`expose: [80]` and `80:80`).
    const keep = s.spec.ports.map((p, i, all) =>
      p.published !== undefined ||
      all.findIndex((q) => q.container === p.container && q.protocol === p.protocol) === i
    );
    s.spec.ports = s.spec.ports.filter((_, i) => keep[i]);
    s.portPaths = s.portPaths.filter((_, i) => keep[i]);
  }
}

/**
 * The front service, also served at `http://STACK.DOMAIN/`: the one marked `x-fossora.front`,
 * else the one named like the stack, else the only one with an http port, else the only one
 * with a published port that may answer HTTP.
 */
function markFront(services: Checked[], stack: string, out: Problems): void {
  const marked = services.filter((s) => s.spec.front);
  if (marked.length > 1) {
    out.push({
      path: marked[1].namePath,
      message: `x-fossora.front is set on ${marked.length} services; set it on one`,
    });
    return;
  }
  if (marked.length === 1) return;
  const named = services.find((s) => s.spec.name === `${stack}.${stack}`);
  const http = services.filter((s) => s.spec.ports.some((p) => p.http));
  // With no http port at all, the only service whose published port may answer HTTP (its URL
  // comes once its node has seen it answer).
  const maybe = http.length === 0
    ? services.filter((s) => s.spec.ports.some((p) => p.detectHttp))
    : [];
  const front = named ?? (http.length === 1 ? http[0] : maybe.length === 1 ? maybe[0] : undefined);
  if (front) front.spec.front = true;
}
