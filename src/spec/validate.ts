/**
 * Validation of services written in fossora's own form (SPEC.md "Service files"), and the
 * checks that span a service's ports and volumes or the whole file, which compose.ts reuses.
 * Every problem is collected; the caller refuses the file when there is any.
 * @module
 */

import type { Healthcheck, PortSpec, ServiceSpec, VolumeSpec } from "../state/types.ts";
import {
  checkBoolean,
  checkCommand,
  checkEnvKey,
  checkImage,
  checkName,
  checkPlacement,
  checkPortNumber,
  checkReplicas,
  checkResources,
  checkStringish,
  checkVolumeName,
  checkVolumePath,
  normalizePath,
  setOwn,
} from "./fields.ts";
import { checkBinds } from "./binds.ts";
import { publishedKey } from "./conflicts.ts";
import { checkContainerOptions } from "./container.ts";
import { checkDevices } from "./device.ts";
import { checkHealthcheck, type StringReader } from "./healthcheck.ts";
import { hostNetworkProblems } from "./host.ts";
import {
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";

/** The keys a fossora service may have. */
export const SERVICE_KEYS: readonly string[] = [
  "name",
  "image",
  "command",
  "replicas",
  "ports",
  "env",
  "volumes",
  "placement",
  "resources",
  "healthcheck",
  "binds",
  "devices",
  "hostNetwork",
  "container",
];

/** The keys a port may have. */
const PORT_KEYS: readonly string[] = [
  "container",
  "http",
  "published",
  "protocol",
  "httpsRedirect",
];

/** Why `httpsRedirect` is refused on a port that is not the HTTP port. */
const HTTPS_REDIRECT_NOT_HTTP = "only the HTTP port (http: true) can redirect to https";

/** Where each part of a port was written, so later checks point at the right place. */
export interface PortPaths {
  container: string;
  http: string;
  published: string;
}

/** A service as far as it checked out, with the paths needed by the checks across services. */
export interface Checked {
  spec: ServiceSpec;
  /** Where the name came from; `""` marks a name that was invalid (and is already reported). */
  namePath: string;
  /** One entry per `spec.ports` item. */
  portPaths: PortPaths[];
  /** One entry per `spec.volumes` item: where its path was written. */
  volumePaths: string[];
  /** Where the replica count was written, when it was. */
  replicasPath?: string;
  /**
   * Mount points besides `spec.volumes` (binds, tmpfs, anonymous volumes) and where each was
   * written, so no two mounts share a path; absent when there are none.
   */
  mountPaths?: { path: string; at: string }[];
}

/**
 * Validates one service in fossora form found at `path` (`""`, `[1]` or `services[1]`). Returns
 * what checked out; the spec is only trustworthy when no problem was pushed.
 */
export function validateService(raw: unknown, path: string, out: Problems): Checked | undefined {
  if (!isMapping(raw)) {
    out.push({
      path,
      message: expected("a service: a mapping with at least name and image", raw),
    });
    return undefined;
  }
  unknownKeys(raw, SERVICE_KEYS, path, out);
  const name = required(raw, "name", path, out, "give the service a name such as whoami") &&
    checkName(raw.name, keyPath(path, "name"), out);
  const image =
    required(raw, "image", path, out, "give the image to run, e.g. traefik/whoami:v1.10") &&
    checkImage(raw.image, keyPath(path, "image"), out);
  const ports = raw.ports === undefined
    ? emptyPorts()
    : checkPorts(raw.ports, keyPath(path, "ports"), out);
  const volumes = raw.volumes === undefined
    ? { volumes: [], paths: [] }
    : checkVolumes(raw.volumes, keyPath(path, "volumes"), out);
  const spec: ServiceSpec = {
    name: name || "",
    image: image || "",
    ...readCommand(raw.command, keyPath(path, "command"), out),
    replicas: raw.replicas === undefined
      ? 1
      : checkReplicas(raw.replicas, keyPath(path, "replicas"), out) ?? 1,
    ports: ports.ports,
    env: raw.env === undefined ? {} : checkEnv(raw.env, keyPath(path, "env"), out),
    volumes: volumes.volumes,
    placement: raw.placement === undefined
      ? {}
      : checkPlacement(raw.placement, keyPath(path, "placement"), out) ?? {},
    ...(raw.resources === undefined
      ? {}
      : { resources: checkResources(raw.resources, keyPath(path, "resources"), out) }),
    ...readHealthcheck(raw.healthcheck, keyPath(path, "healthcheck"), out, "fossora"),
    ...readDockerSettings(raw, path, out),
  };
  const mountPaths = dockerMountPaths(spec, path);
  const checked = {
    spec,
    namePath: name ? keyPath(path, "name") : "",
    portPaths: ports.paths,
    volumePaths: volumes.paths,
    replicasPath: keyPath(path, "replicas"),
    ...(mountPaths.length > 0 ? { mountPaths } : {}),
  };
  checkWithinService(checked, out);
  return checked;
}

/**
 * `binds`, `devices`, `hostNetwork` and `container` as far as they are given and valid; each
 * is left out when absent or empty, so a spec that does not use them stays as it was.
 */
function readDockerSettings(
  raw: Record<string, unknown>,
  path: string,
  out: Problems,
): Pick<ServiceSpec, "binds" | "devices" | "hostNetwork" | "container"> {
  const hostNetwork = raw.hostNetwork === undefined
    ? false
    : checkBoolean(raw.hostNetwork, keyPath(path, "hostNetwork"), out) ?? false;
  const binds = raw.binds === undefined ? [] : checkBinds(raw.binds, keyPath(path, "binds"), out);
  const devices = raw.devices === undefined
    ? []
    : checkDevices(raw.devices, keyPath(path, "devices"), out);
  const container = raw.container === undefined
    ? undefined
    : checkContainerOptions(raw.container, keyPath(path, "container"), out, hostNetwork);
  return {
    ...(binds.length > 0 ? { binds } : {}),
    ...(devices.length > 0 ? { devices } : {}),
    ...(hostNetwork ? { hostNetwork: true } : {}),
    ...(container && Object.keys(container).length > 0 ? { container } : {}),
  };
}

/** The mount points of binds, tmpfs and anonymous volumes, with where each was written. */
function dockerMountPaths(spec: ServiceSpec, path: string): { path: string; at: string }[] {
  const container = keyPath(path, "container");
  return [
    ...(spec.binds ?? []).map((b, i) => ({
      path: b.path,
      at: keyPath(indexPath(keyPath(path, "binds"), i), "path"),
    })),
    ...(spec.container?.tmpfs ?? []).map((t, i) => ({
      path: t.path,
      at: indexPath(keyPath(container, "tmpfs"), i),
    })),
    ...(spec.container?.anonymousVolumes ?? []).map((p, i) => ({
      path: p,
      at: indexPath(keyPath(container, "anonymousVolumes"), i),
    })),
  ];
}

/**
 * `{ command }` when a valid command is given, else nothing, so the spec has no undefined key.
 * `check` reads the command as the file's form writes it.
 */
export function readCommand(
  value: unknown,
  path: string,
  out: Problems,
  check: (value: unknown, path: string, out: Problems) => string[] | undefined = checkCommand,
): { command?: string[] } {
  if (value === undefined) return {};
  const command = check(value, path, out);
  return command === undefined ? {} : { command };
}

/** `{ healthcheck }` when a valid one is given, else nothing (see {@link readCommand}). */
export function readHealthcheck(
  value: unknown,
  path: string,
  out: Problems,
  form: "fossora" | "compose",
  read?: StringReader,
): { healthcheck?: Healthcheck } {
  if (value === undefined) return {};
  const healthcheck = checkHealthcheck(value, path, out, form, read);
  return healthcheck === undefined ? {} : { healthcheck };
}

function required(
  raw: Record<string, unknown>,
  key: string,
  path: string,
  out: Problems,
  hint: string,
): boolean {
  if (raw[key] !== undefined) return true;
  out.push({ path: keyPath(path, key), message: `is missing; ${hint}` });
  return false;
}

function emptyPorts(): { ports: PortSpec[]; paths: PortPaths[] } {
  return { ports: [], paths: [] };
}

function checkPorts(
  value: unknown,
  path: string,
  out: Problems,
): { ports: PortSpec[]; paths: PortPaths[] } {
  const found = emptyPorts();
  if (!Array.isArray(value)) {
    out.push({
      path,
      message: expected("a list of ports such as [{ container: 8080, http: true }]", value),
    });
    return found;
  }
  value.forEach((item, i) => {
    const at = indexPath(path, i);
    const port = checkPort(item, at, out);
    if (port === undefined) return;
    found.ports.push(port);
    found.paths.push({
      container: keyPath(at, "container"),
      http: keyPath(at, "http"),
      published: keyPath(at, "published"),
    });
  });
  return found;
}

function checkPort(item: unknown, path: string, out: Problems): PortSpec | undefined {
  if (!isMapping(item)) {
    out.push({
      path,
      message: expected("a port: a mapping with container, and http or published", item),
    });
    return undefined;
  }
  unknownKeys(item, PORT_KEYS, path, out);
  if (item.container === undefined) {
    out.push({
      path: keyPath(path, "container"),
      message: "is missing; give the port inside the container",
    });
    return undefined;
  }
  const container = checkPortNumber(item.container, keyPath(path, "container"), out);
  const http = item.http === undefined
    ? false
    : checkBoolean(item.http, keyPath(path, "http"), out);
  const published = item.published === undefined
    ? undefined
    : checkPortNumber(item.published, keyPath(path, "published"), out);
  const redirect = item.httpsRedirect === undefined
    ? false
    : checkHttpsRedirect(item.httpsRedirect, http, keyPath(path, "httpsRedirect"), out);
  const protocol = item.protocol === undefined
    ? "tcp"
    : checkProtocol(item.protocol, { http, published: item.published }, path, out);
  if (container === undefined || http === undefined || redirect === undefined) return undefined;
  if (item.published !== undefined && published === undefined) return undefined;
  if (protocol === undefined) return undefined;
  const port: PortSpec = { container, http };
  if (published !== undefined) port.published = published;
  // Stored only for UDP: a TCP port stays exactly as it was written before UDP existed.
  if (protocol === "udp") port.protocol = "udp";
  // Stored only when true: a spec that does not ask for it stays exactly as it was.
  if (redirect) port.httpsRedirect = true;
  return port;
}

/**
 * Checks a port's `protocol`: `tcp` or `udp`; a UDP port is published (only the routing mesh
 * reaches it) and is not the http port (HTTP is TCP).
 */
function checkProtocol(
  value: unknown,
  port: { http: boolean | undefined; published: unknown },
  path: string,
  out: Problems,
): "tcp" | "udp" | undefined {
  const at = keyPath(path, "protocol");
  if (value !== "tcp" && value !== "udp") {
    out.push({ path: at, message: expected("tcp or udp", value) });
    return undefined;
  }
  if (value === "udp" && port.http === true) {
    out.push({
      path: at,
      message: "the http port is TCP; serve UDP on another port entry with published",
    });
    return undefined;
  }
  if (value === "udp" && port.published === undefined) {
    out.push({
      path: at,
      message: "a UDP port is reached only where it is published; add published: PORT",
    });
    return undefined;
  }
  return value;
}

/**
 * Checks a port's `httpsRedirect`: a boolean, and only on the HTTP port (`http` undefined means
 * http was invalid, already reported, so only the type is checked).
 */
function checkHttpsRedirect(
  value: unknown,
  http: boolean | undefined,
  path: string,
  out: Problems,
): boolean | undefined {
  const redirect = checkBoolean(value, path, out);
  if (redirect === undefined || http !== false) return redirect;
  out.push({ path, message: HTTPS_REDIRECT_NOT_HTTP });
  return undefined;
}

function checkEnv(value: unknown, path: string, out: Problems): Record<string, string> {
  const env: Record<string, string> = {};
  if (!isMapping(value)) {
    out.push({
      path,
      message: expected("a mapping of variable to value such as { TZ: Europe/Paris }", value),
    });
    return env;
  }
  for (const [key, raw] of entries(value)) {
    const at = keyPath(path, key);
    if (!checkEnvKey(key, at, out)) continue;
    const text = checkStringish(raw, at, out);
    if (text !== undefined) setOwn(env, key, text);
  }
  return env;
}

function checkVolumes(
  value: unknown,
  path: string,
  out: Problems,
): { volumes: VolumeSpec[]; paths: string[] } {
  const found = { volumes: [] as VolumeSpec[], paths: [] as string[] };
  if (!Array.isArray(value)) {
    out.push({
      path,
      message: expected("a list of volumes such as [{ name: config, path: /config }]", value),
    });
    return found;
  }
  value.forEach((item, i) => {
    const at = indexPath(path, i);
    if (!isMapping(item)) {
      out.push({ path: at, message: expected("a volume: a mapping with name and path", item) });
      return;
    }
    unknownKeys(item, ["name", "path"], at, out);
    const name = item.name === undefined
      ? missing(keyPath(at, "name"), "give the volume a name such as config", out)
      : checkVolumeName(item.name, keyPath(at, "name"), out);
    const mount = item.path === undefined
      ? missing(
        keyPath(at, "path"),
        "give the absolute path inside the container, e.g. /config",
        out,
      )
      : checkVolumePath(item.path, keyPath(at, "path"), out);
    if (name === undefined || mount === undefined) return;
    found.volumes.push({ name, path: mount });
    found.paths.push(keyPath(at, "path"));
  });
  return found;
}

function missing(path: string, hint: string, out: Problems): undefined {
  out.push({ path, message: `is missing; ${hint}` });
  return undefined;
}

/**
 * The rules inside one service: at most one http port, each container port once, each mount
 * path once.
 */
export function checkWithinService(checked: Checked, out: Problems): void {
  const { ports } = checked.spec;
  const firstHttp = ports.findIndex((port) => port.http);
  ports.forEach((port, i) => {
    const paths = checked.portPaths[i];
    const earlier = ports.findIndex((other) =>
      other.container === port.container && other.protocol === port.protocol
    );
    if (earlier < i) {
      out.push({
        path: paths.container,
        message: `container port ${port.container}${
          port.protocol === "udp" ? "/udp" : ""
        } is already listed at ${checked.portPaths[earlier].container}; list each port once`,
      });
    }
    if (port.http && firstHttp < i) {
      out.push({
        path: paths.http,
        message: `a service has at most one http port, and ${
          checked.portPaths[firstHttp].http
        } is one already; serve the other port with published instead`,
      });
    }
  });
  if (checked.spec.hostNetwork) {
    hostNetworkProblems(ports, checked.portPaths.map((p) => p.published), out);
  }
  const { replicas, volumes } = checked.spec;
  if (volumes.length > 0 && replicas > 1) {
    // Two copies writing one volume each would diverge, and on one node would corrupt it.
    out.push({
      path: checked.replicasPath ?? checked.volumePaths[0],
      message: `a service with volumes runs one copy at a time, so that its data is never ` +
        `written twice; set replicas to 1 (it moves to another node if its node dies), or ` +
        `split what can run many times into a service without volumes`,
    });
  }
  const seen = new Map<string, string>();
  const mounts = [
    ...checked.spec.volumes.map((volume, i) => ({ path: volume.path, at: checked.volumePaths[i] })),
    ...(checked.mountPaths ?? []),
  ];
  for (const { path, at } of mounts) {
    const key = normalizePath(path);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      out.push({
        path: at,
        message: `path ${path} is already mounted by ${earlier}; mount one thing per path`,
      });
    } else {
      seen.set(key, at);
    }
  }
}

/** The rules across the file: service names are unique, and so are published ports. */
export function checkAcrossServices(services: Checked[], out: Problems): void {
  const names = new Map<string, string>();
  const published = new Map<string, string>();
  for (const checked of services) {
    const { name } = checked.spec;
    if (checked.namePath !== "") {
      const earlier = names.get(name);
      if (earlier !== undefined) {
        out.push({
          path: checked.namePath,
          message: `service name '${name}' is already used at ${earlier}; names are unique`,
        });
      } else {
        names.set(name, checked.namePath);
      }
    }
    checked.spec.ports.forEach((port, i) => {
      if (port.published === undefined) return;
      const path = checked.portPaths[i].published;
      const earlier = published.get(publishedKey(port));
      if (earlier !== undefined) {
        out.push({
          path,
          message: `published ${
            port.protocol === "udp" ? "UDP port" : "port"
          } ${port.published} is already used at ${earlier}; every published port is unique in the cluster`,
        });
      } else {
        published.set(publishedKey(port), path);
      }
    });
  }
}
