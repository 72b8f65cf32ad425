/**
 * Reads a docker-compose file into fossora services. Nothing is dropped silently: every key is
 * either mapped below, ignored with a warning, or reported as a problem by its path.
 *
 * How compose maps to fossora, per service `services.NAME`:
 *
 * | compose | fossora |
 * | --- | --- |
 * | the key `NAME` | `name` (must be a DNS label) |
 * | `image` | `image` (required: fossora runs prebuilt images only) |
 * | `command: "a 'b c'"` or `command: [a, "b c"]` | `command: [a, "b c"]` (a string is split like a shell splits words) |
 * | `environment: {K: v}` or `[K=v]` | `env: {K: "v"}`; a key without value is a problem (fossora has no shell to take it from) |
 * | `ports: ["80"]` (container port only) | the first such port becomes the http port, `{container: 80, http: true}`, served at `http://NAME.DOMAIN/`; later ones stay container ports (with a warning) |
 * | `ports: ["8080:80"]`, `"8080:80/tcp"`, `"0.0.0.0:8080:80"`, `{target: 80, published: 8080}` | `{container: 80, http: false, published: 8080}` |
 * | `ports` with a range, a host address other than 0.0.0.0 / ::, or udp without a host port | a problem |
 * | `volumes: ["data:/data"]`, `"data:/data:rw"`, `{type: volume, source: data, target: /data}` | `{name: data, path: /data}`; `data` must be declared under the top-level `volumes` |
 * | `volumes` bind mounts (`./x:/x`, `/host:/x`), anonymous volumes, tmpfs, `:ro` | a problem: fossora keeps named read-write volumes only |
 * | `deploy.replicas` | `replicas` (default 1) |
 * | `healthcheck: {test, interval, timeout, start_period, retries, disable}` | `healthcheck` (`startPeriod`; a string `test` becomes `["CMD-SHELL", test]`, `disable: true` becomes `test: ["NONE"]`) |
 * | `x-fossora: {http: 8080}` | makes container port 8080 the http port (adding it when `ports` lacks it); `http: false` means no http port |
 * | `x-fossora: {https_redirect: true}` | `httpsRedirect: true` on the http port: `http://NAME.DOMAIN/` redirects to `https://`; a problem when the service has no http port |
 * | `x-fossora: {placement: {...}, replicas: N}` | `placement` and `replicas`, as in a fossora service |
 * | other `x-*` keys | ignored, with a warning (compose's extension fields, often anchors) |
 * | any other key (`restart`, `depends_on`, `networks`, `build`, …) | a problem naming it |
 *
 * At the top level, `version` (obsolete) and `name` (fossora names services by their keys) are
 * ignored with a warning; `volumes` declares named volumes (a declaration must be empty);
 * `x-*` keys are ignored with a warning; anything else is a problem. `${VAR}` and `$VAR` are
 * problems wherever they appear, since docker compose would fill them from a shell or `.env`
 * that fossora does not have; `$$` is a literal `$`.
 * @module
 */

import type { PortSpec, ServiceSpec, VolumeSpec } from "../state/types.ts";
import {
  checkBoolean,
  checkImage,
  checkName,
  checkPlacement,
  checkPortNumber,
  checkReplicas,
} from "./fields.ts";
import {
  composeCommand,
  composeEnvironment,
  type ComposePort,
  composePort,
  composeString,
  composeVolume,
  notUnderstood,
} from "./compose_fields.ts";
import {
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";
import {
  type Checked,
  checkWithinService,
  type PortPaths,
  readCommand,
  readHealthcheck,
} from "./validate.ts";

/** The keys of a compose service that fossora reads. */
const SERVICE_KEYS = [
  "image",
  "command",
  "environment",
  "ports",
  "volumes",
  "deploy",
  "healthcheck",
  "x-fossora",
];

/** The fossora settings a compose service may carry under `x-fossora`. */
const EXTENSION_KEYS = ["http", "https_redirect", "placement", "replicas"];

/** What the caller collects: problems refuse the file, warnings are shown with the result. */
export interface ComposeOutput {
  problems: Problems;
  warnings: Problems;
}

/**
 * Reads a compose document (a mapping whose `services` is a mapping of name -> definition).
 * Returns the services as far as they checked out; they are only usable when no problem was
 * pushed. Checks across services (unique published ports) are left to the caller.
 */
export function composeToServices(doc: Record<string, unknown>, out: ComposeOutput): Checked[] {
  const declared = readTopLevel(doc, out);
  const used = new Set<string>();
  const services: Checked[] = [];
  const defs = doc.services;
  if (!isMapping(defs)) return services;
  for (const [key, def] of entries(defs)) {
    const checked = composeService(key, def, { declared, used, out });
    if (checked !== undefined) services.push(checked);
  }
  for (const name of declared ?? []) {
    if (!used.has(name)) {
      out.warnings.push({
        path: keyPath("volumes", name),
        message: "is declared but no service mounts it; it is ignored",
      });
    }
  }
  return services;
}

/** Reads the top-level keys; returns the declared volume names (undefined when none). */
function readTopLevel(doc: Record<string, unknown>, out: ComposeOutput): Set<string> | undefined {
  for (const key of Object.keys(doc)) {
    if (key === "services" || key === "volumes") continue;
    if (key === "version") {
      out.warnings.push({ path: key, message: "is obsolete in compose files and is ignored" });
    } else if (key === "name") {
      out.warnings.push({ path: key, message: "is ignored: fossora names services by their keys" });
    } else if (key.startsWith("x-")) {
      out.warnings.push({
        path: keyPath("", key),
        message: "is an extension field and is ignored",
      });
    } else {
      notUnderstood("", key, out.problems);
    }
  }
  if (doc.volumes === undefined) return undefined;
  if (!isMapping(doc.volumes)) {
    out.problems.push({
      path: "volumes",
      message: expected(
        "a mapping of volume name to its (empty) declaration, e.g. { data: {} }",
        doc.volumes,
      ),
    });
    return undefined;
  }
  for (const [name, declaration] of entries(doc.volumes)) {
    const path = keyPath("volumes", name);
    if (isMapping(declaration)) {
      for (const key of Object.keys(declaration)) notUnderstood(path, key, out.problems);
    } else if (declaration !== null) {
      out.problems.push({
        path,
        message: expected("an empty declaration such as {}", declaration),
      });
    }
  }
  return new Set(Object.keys(doc.volumes));
}

interface Context {
  declared: Set<string> | undefined;
  used: Set<string>;
  out: ComposeOutput;
}

function composeService(key: string, def: unknown, ctx: Context): Checked | undefined {
  const problems = ctx.out.problems;
  const path = keyPath("services", key);
  const name = checkName(key, path, problems);
  if (!isMapping(def)) {
    problems.push({ path, message: expected("a service: a mapping with at least image", def) });
    return undefined;
  }
  for (const field of Object.keys(def)) {
    if (SERVICE_KEYS.includes(field)) continue;
    if (field.startsWith("x-")) {
      ctx.out.warnings.push({
        path: keyPath(path, field),
        message: "is an extension field and is ignored",
      });
    } else {
      notUnderstood(path, field, problems);
    }
  }
  const extension = readExtension(def["x-fossora"], keyPath(path, "x-fossora"), problems);
  const spec: ServiceSpec = {
    name: name ?? "",
    image: readImage(def.image, keyPath(path, "image"), problems) ?? "",
    ...readCommand(def.command, keyPath(path, "command"), problems, composeCommand),
    replicas: readReplicas(def.deploy, extension, path, problems),
    ports: [],
    env: def.environment === undefined
      ? {}
      : composeEnvironment(def.environment, keyPath(path, "environment"), problems),
    volumes: [],
    placement: extension.placement ?? {},
    ...readHealthcheck(
      def.healthcheck,
      keyPath(path, "healthcheck"),
      problems,
      "compose",
      composeString,
    ),
  };
  const ports = readPorts(def.ports, extension, keyPath(path, "ports"), ctx.out);
  spec.ports = ports.ports;
  const volumes = readVolumes(def.volumes, keyPath(path, "volumes"), ctx);
  spec.volumes = volumes.volumes;
  const checked: Checked = {
    spec,
    namePath: name === undefined ? "" : path,
    portPaths: ports.paths,
    volumePaths: volumes.paths,
    replicasPath: extension.replicas !== undefined
      ? extension.replicasPath
      : keyPath(keyPath(path, "deploy"), "replicas"),
  };
  checkWithinService(checked, problems);
  return checked;
}

function readImage(value: unknown, path: string, out: Problems): string | undefined {
  if (value === undefined) {
    out.push({
      path,
      message:
        "is missing; fossora runs prebuilt images only: build and push the image, then set image",
    });
    return undefined;
  }
  const text = composeString(value, "an image reference such as traefik/whoami:v1.10", path, out);
  return text === undefined ? undefined : checkImage(text, path, out);
}

/** The fossora settings of a compose service; `http` is a container port, false, or unset. */
interface Extension {
  http?: number | false;
  httpPath: string;
  /** `https_redirect`, for the http port; undefined when unset or invalid. */
  httpsRedirect?: boolean;
  httpsRedirectPath: string;
  placement?: ServiceSpec["placement"];
  replicas?: number;
  replicasPath: string;
}

function readExtension(value: unknown, path: string, out: Problems): Extension {
  const extension: Extension = {
    httpPath: keyPath(path, "http"),
    httpsRedirectPath: keyPath(path, "https_redirect"),
    replicasPath: keyPath(path, "replicas"),
  };
  if (value === undefined) return extension;
  if (!isMapping(value)) {
    out.push({
      path,
      message: expected("a mapping with http, https_redirect, placement or replicas", value),
    });
    return extension;
  }
  unknownKeys(value, EXTENSION_KEYS, path, out);
  if (value.http === false) extension.http = false;
  else if (typeof value.http === "number") {
    extension.http = checkPortNumber(value.http, extension.httpPath, out);
  } else if (value.http !== undefined) {
    out.push({
      path: extension.httpPath,
      message: expected("the container port to serve over http, or false for none", value.http),
    });
  }
  if (value.https_redirect !== undefined) {
    extension.httpsRedirect = checkBoolean(
      value.https_redirect,
      extension.httpsRedirectPath,
      out,
    );
  }
  if (value.placement !== undefined) {
    extension.placement = checkPlacement(value.placement, keyPath(path, "placement"), out);
  }
  if (value.replicas !== undefined) {
    extension.replicas = checkReplicas(value.replicas, extension.replicasPath, out);
  }
  return extension;
}

function readReplicas(deploy: unknown, extension: Extension, path: string, out: Problems): number {
  const deployPath = keyPath(path, "deploy");
  let replicas: number | undefined;
  if (isMapping(deploy)) {
    for (const key of Object.keys(deploy)) {
      if (key !== "replicas") notUnderstood(deployPath, key, out);
    }
    if (deploy.replicas !== undefined) {
      replicas = checkReplicas(deploy.replicas, keyPath(deployPath, "replicas"), out);
      if (extension.replicas !== undefined) {
        out.push({
          path: extension.replicasPath,
          message: `replicas is also set at ${
            keyPath(deployPath, "replicas")
          }; set it in one place`,
        });
      }
    }
  } else if (deploy !== undefined) {
    out.push({ path: deployPath, message: expected("a mapping with replicas", deploy) });
  }
  return replicas ?? extension.replicas ?? 1;
}

function readPorts(
  value: unknown,
  extension: Extension,
  path: string,
  out: ComposeOutput,
): { ports: PortSpec[]; paths: PortPaths[] } {
  const read: { entry: ComposePort; at: string }[] = [];
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = indexPath(path, i);
      const entry = composePort(item, at, out.problems);
      if (entry !== undefined) read.push({ entry, at });
    });
  } else if (value !== undefined) {
    out.problems.push({ path, message: expected('a list of ports such as ["8080:80"]', value) });
  }
  const httpPort = extension.http ??
    read.find(({ entry }) => entry.published === undefined && !entry.protocol)?.entry.container;
  const found: { ports: PortSpec[]; paths: PortPaths[] } = { ports: [], paths: [] };
  let httpTaken = false;
  for (const { entry, at } of read) {
    const http: boolean = !httpTaken && entry.container === httpPort && !entry.protocol;
    httpTaken ||= http;
    if (!http && entry.published === undefined) {
      out.warnings.push({
        path: at,
        message:
          `container port ${entry.container} has no host port, and fossora does not publish ` +
          `on random host ports: it is kept but nothing outside the container reaches it; write ` +
          `"${entry.container}:${entry.container}" to publish it`,
      });
    }
    const port: PortSpec = { container: entry.container, http };
    if (entry.published !== undefined) port.published = entry.published;
    if (entry.protocol) port.protocol = entry.protocol;
    found.ports.push(port);
    found.paths.push({ container: at, http: at, published: at });
  }
  if (
    typeof httpPort === "number" &&
    !read.some(({ entry }) => entry.container === httpPort && !entry.protocol)
  ) {
    found.ports.push({ container: httpPort, http: true });
    const at = extension.httpPath;
    found.paths.push({ container: at, http: at, published: at });
  }
  applyHttpsRedirect(found.ports, extension, out.problems);
  return found;
}

/**
 * Sets `x-fossora.https_redirect` on the service's http port: only `true` is stored (false is
 * the default), and either value is a problem when the service has no http port.
 */
function applyHttpsRedirect(ports: PortSpec[], extension: Extension, out: Problems): void {
  if (extension.httpsRedirect === undefined) return;
  const http = ports.find((port) => port.http);
  if (http === undefined) {
    out.push({
      path: extension.httpsRedirectPath,
      message: "the service has no http port to redirect to https; give it one with a " +
        'container-only port such as ports: ["80"], or with x-fossora.http',
    });
  } else if (extension.httpsRedirect) {
    http.httpsRedirect = true;
  }
}

function readVolumes(
  value: unknown,
  path: string,
  ctx: Context,
): { volumes: VolumeSpec[]; paths: string[] } {
  const found = { volumes: [] as VolumeSpec[], paths: [] as string[] };
  if (value === undefined) return found;
  if (!Array.isArray(value)) {
    ctx.out.problems.push({
      path,
      message: expected('a list of volumes such as ["data:/data"]', value),
    });
    return found;
  }
  value.forEach((item, i) => {
    const at = indexPath(path, i);
    const volume = composeVolume(item, at, ctx.out.problems);
    if (volume === undefined) return;
    ctx.used.add(volume.name);
    if (!ctx.declared?.has(volume.name)) {
      ctx.out.problems.push({
        path: at,
        message: `volume '${volume.name}' is not declared under the top-level volumes; add ` +
          `"volumes: { ${volume.name}: {} }" (docker compose requires it too)`,
      });
      return;
    }
    found.volumes.push(volume);
    found.paths.push(at);
  });
  return found;
}
