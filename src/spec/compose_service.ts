/**
 * Reads one compose service (`services.KEY`) into a fossora service of its stack, named
 * `KEY.STACK`. Every key is mapped (to what Docker does), accepted with a warning that says what
 * fossora does instead, or reported as a problem that says what to do: nothing is dropped
 * silently.
 * @module
 */

import type {
  BindSpec,
  Dependency,
  FileMount,
  PortSpec,
  ServiceSpec,
  VolumeSpec,
} from "../state/types.ts";
import { isDnsLabel } from "../util/names.ts";
import {
  checkBoolean,
  checkImage,
  checkPlacement,
  checkPortNumber,
  checkReplicas,
  normalizePath,
} from "./fields.ts";
import { parseBytes } from "./bytes.ts";
import {
  composeCommand,
  composeEnvironment,
  type ComposePort,
  composePorts,
  composeString,
  type Lookup,
  notUnderstood,
  parseEnvFile,
  sentFile,
} from "./compose_fields.ts";
import { tooManyHostItems } from "./host_path.ts";
import { type ComposeMount, composeMount, composeTmpfs } from "./compose_mounts.ts";
import { composeDevices, composeOptions, OPTION_KEYS } from "./compose_options.ts";
import { composeDeploy } from "./compose_deploy.ts";
import {
  entries,
  expected,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";
import { type Checked, checkWithinService, type PortPaths, readHealthcheck } from "./validate.ts";

/** Keys fossora covers itself: accepted, with what it does instead. */
const COVERED: Record<string, string> = {
  version: "it is obsolete in compose files",
  restart: "fossora restarts a container that exits, and moves it when its node dies",
  container_name: "fossora names containers itself (the stack's services reach it by its key)",
  hostname: "the stack's services reach it by its key",
  domainname: "the stack's services reach it by its key",
  logging: "fossora keeps each container's log on its node (`fossora logs`)",
  dns: "containers use the cluster's DNS, which forwards other names to the nodes' resolvers",
  dns_search: "containers use the cluster's DNS",
  dns_opt: "containers use the cluster's DNS",
  stdin_open: "fossora runs services detached",
  tty: "fossora runs services detached",
  pull_policy: "fossora pulls an image a node does not have",
  mac_address: "containers get addresses from their node's network",
  external_links: "services of the cluster are reached at NAME.DOMAIN",
  cpu_shares: "use deploy.resources",
  oom_score_adj: "Docker's default is kept",
  scale: "",
  links: "",
  expose: "",
  networks: "",
};

/** The keys read here besides OPTION_KEYS and COVERED. */
const MAPPED = [
  "image",
  "build",
  "command",
  "environment",
  "env_file",
  "ports",
  "volumes",
  "tmpfs",
  "deploy",
  "healthcheck",
  "depends_on",
  "network_mode",
  "devices",
  "secrets",
  "configs",
  "profiles",
  "mem_reservation",
  "x-fossora",
];

/** The fossora settings a compose service may carry under `x-fossora`. */
const EXTENSION_KEYS = ["http", "https_redirect", "placement", "replicas", "front"];

/** What reading one service needs from the file around it. */
export interface ServiceContext {
  stack: string;
  lookup: Lookup;
  /** Contents of files the CLI read beside the compose file, by the path as written. */
  files: Record<string, string>;
  /** Top-level `volumes` keys; undefined when there is none. */
  declaredVolumes: Set<string> | undefined;
  /** Top-level `secrets` and `configs` names. */
  secrets: Set<string>;
  configs: Set<string>;
  /** Every service key of the file, for `depends_on` and `links`. */
  keys: Set<string>;
  /** The keys left out because none of their profiles is active. */
  notDeployed: Set<string>;
  /** Named volume -> the first service key that mounts it. */
  volumeUsers: Map<string, string>;
  out: { problems: Problems; warnings: Problems };
}

/** A compose key as a DNS label: `db_server` -> `db-server`, `Nextcloud` -> `nextcloud`. */
export function dnsForm(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63)
    .replace(/-+$/, "");
}

/** Reads service `key` of the file; returns it with the paths later checks point at. */
export function composeService(
  key: string,
  def: unknown,
  ctx: ServiceContext,
): Checked | undefined {
  const { problems, warnings } = ctx.out;
  const path = keyPath("services", key);
  if (!isMapping(def)) {
    problems.push({ path, message: expected("a service: a mapping with at least image", def) });
    return undefined;
  }
  const label = serviceLabel(key, path, ctx.out);
  for (const field of Object.keys(def)) {
    const at = keyPath(path, field);
    if (MAPPED.includes(field) || (OPTION_KEYS as readonly string[]).includes(field)) continue;
    // Own keys only: `toString` or `constructor` in a file is not one of ours.
    if (Object.hasOwn(COVERED, field)) {
      if (COVERED[field] !== "") {
        warnings.push({ path: at, message: `is ignored: ${COVERED[field]}` });
      }
    } else if (field.startsWith("x-")) {
      warnings.push({ path: at, message: "is an extension field and is ignored" });
    } else notUnderstood(path, field, problems);
  }
  const extension = readExtension(def["x-fossora"], keyPath(path, "x-fossora"), problems);
  const deploy = composeDeploy(def.deploy, keyPath(path, "deploy"), ctx.out);
  const options = composeOptions(def, path, ctx.out);
  if (deploy.limits) options.limits = { ...options.limits, ...deploy.limits };
  const mounts = readMounts(def, path, key, ctx);
  if (mounts.anonymous.length) options.anonymousVolumes = mounts.anonymous;
  if (mounts.tmpfs.length) options.tmpfs = mounts.tmpfs;
  const ports = readPorts(def, extension, path, ctx.out);
  const spec: ServiceSpec = {
    name: label === undefined ? "" : `${label}.${ctx.stack}`,
    image: readImage(def.image, def.build, path, ctx.out) ?? "",
    ...readCommandField(def.command, keyPath(path, "command"), problems),
    replicas: readReplicas(def, deploy.replicas, extension, path, ctx.out),
    ports: ports.ports,
    env: readEnvironment(def, path, ctx),
    volumes: mounts.volumes,
    placement: {
      ...extension.placement,
      ...(deploy.constraints?.length ? { constraints: deploy.constraints } : {}),
    },
    ...readHealthcheck(
      withoutStartInterval(def.healthcheck, keyPath(path, "healthcheck"), warnings),
      keyPath(path, "healthcheck"),
      problems,
      "compose",
      composeString,
    ),
    stack: ctx.stack,
  };
  const reservations = deploy.reservations ?? memReservation(def, path, problems);
  if (reservations && Object.keys(reservations).length) spec.resources = reservations;
  if (mounts.binds.length) spec.binds = mounts.binds;
  // As many host paths as the fossora form allows (binds.ts, device.ts).
  tooManyHostItems(mounts.binds, keyPath(path, "volumes"), problems);
  if (def.devices !== undefined) {
    const devices = composeDevices(def.devices, keyPath(path, "devices"), problems, warnings);
    if (devices?.length) spec.devices = devices;
  }
  if (readNetworkMode(def.network_mode, keyPath(path, "network_mode"), ctx.out)) {
    spec.hostNetwork = true;
    // Docker discards published ports with host networking: the container's are the node's.
    const web = !spec.ports.some((p) => p.http);
    spec.ports.forEach((port, i) => {
      if (port.published === undefined) return;
      ctx.out.warnings.push({
        path: ports.paths[i].published,
        message: `with network_mode: host the container's port ${port.container} is the ` +
          "node's own, so the mapping is ignored, as Docker ignores it",
      });
      delete port.published;
      if (web && !port.protocol) port.detectHttp = true;
    });
    // A UDP port of the node needs no forwarding; fossora keeps only published UDP ports.
    const keep = spec.ports.map((p) => !p.protocol);
    spec.ports = spec.ports.filter((_, i) => keep[i]);
    ports.paths = ports.paths.filter((_, i) => keep[i]);
  }
  const aliases = readAliases(key, label, def, path, ctx);
  if (aliases.length) spec.aliases = aliases;
  if (def.expose !== undefined) exposeWarning(spec, def.expose, keyPath(path, "expose"), ctx);
  if (extension.front) spec.front = true;
  const files = [
    ...readFileMounts(def.secrets, keyPath(path, "secrets"), true, ctx),
    ...readFileMounts(def.configs, keyPath(path, "configs"), false, ctx),
  ];
  if (files.length) spec.files = files;
  const dependsOn = readDependsOn(def.depends_on, keyPath(path, "depends_on"), key, ctx);
  if (dependsOn.length) spec.dependsOn = dependsOn;
  if (Object.keys(options).length) spec.container = options;
  const checked: Checked = {
    spec,
    namePath: label === undefined ? "" : path,
    portPaths: ports.paths,
    volumePaths: mounts.volumePaths,
    // Where the number of replicas was written, for problems about it.
    replicasPath: extension.replicas !== undefined
      ? extension.replicasPath
      : def.scale !== undefined && deploy.replicas === undefined
      ? keyPath(path, "scale")
      : keyPath(keyPath(path, "deploy"), "replicas"),
  };
  checkWithinService(checked, problems);
  return checked;
}

/**
 * `healthcheck.start_interval` needs Docker 25 (API 1.44); older engines, such as Debian 12's,
 * ignore it, and so does fossora, with a warning.
 */
function withoutStartInterval(value: unknown, path: string, warnings: Problems): unknown {
  if (!isMapping(value) || value.start_interval === undefined) return value;
  warnings.push({
    path: keyPath(path, "start_interval"),
    message: "is ignored: the checks run every interval from the start (Docker before 25 has " +
      "no start interval)",
  });
  const { start_interval: _s, ...rest } = value;
  return rest;
}

/** The service key's DNS form, with a warning when it differs from the key. */
function serviceLabel(
  key: string,
  path: string,
  out: { problems: Problems; warnings: Problems },
): string | undefined {
  if (isDnsLabel(key)) return key;
  const label = dnsForm(key);
  if (label === "" || !isDnsLabel(label)) {
    out.problems.push({
      path,
      message: `'${key}' cannot be made a DNS name; name the service with letters, digits and '-'`,
    });
    return undefined;
  }
  out.warnings.push({
    path,
    message: `'${key}' is not a DNS name, so the service is '${label}' in the cluster; the ` +
      `stack's containers still reach it as ${key}`,
  });
  return label;
}

function readImage(
  image: unknown,
  build: unknown,
  path: string,
  out: { problems: Problems; warnings: Problems },
): string | undefined {
  if (image === undefined) {
    out.problems.push({
      path: keyPath(path, build === undefined ? "image" : "build"),
      message: build === undefined
        ? "is missing: give the image to run, e.g. image: nginx:1.27"
        : "fossora runs images: build and push it, then set image:",
    });
    return undefined;
  }
  if (build !== undefined) {
    out.warnings.push({
      path: keyPath(path, "build"),
      message: "is ignored: fossora pulls the image named by image: (build and push it first)",
    });
  }
  const at = keyPath(path, "image");
  const text = composeString(image, "an image reference such as nginx:1.27", at, out.problems);
  if (text === undefined) return undefined;
  // Docs pages template the tag (`:{{VERSION}}`, `:@version@`, `:<tag>`); the newest is meant.
  const templated = /^([^\s{}<>@]+):(\{\{\s*\w+\s*\}\}|@\w+@|<\w+>)$/.exec(text);
  if (templated) {
    out.warnings.push({
      path: at,
      message: `the tag ${templated[2]} is a placeholder from the docs: fossora runs ` +
        `${templated[1]}:latest; write the version you want instead`,
    });
    return checkImage(`${templated[1]}:latest`, at, out.problems);
  }
  return checkImage(text, at, out.problems);
}

function readCommandField(value: unknown, path: string, out: Problems): { command?: string[] } {
  if (value === undefined || value === null) return {};
  const command = composeCommand(value, path, out);
  return command === undefined ? {} : { command };
}

/** The fossora settings of a compose service; `http` is a container port, false, or unset. */
interface Extension {
  http?: number | false;
  httpPath: string;
  httpsRedirect?: boolean;
  httpsRedirectPath: string;
  placement?: ServiceSpec["placement"];
  replicas?: number;
  replicasPath: string;
  front?: boolean;
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
      message: expected("a mapping with http, https_redirect, placement, replicas or front", value),
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
    extension.httpsRedirect = checkBoolean(value.https_redirect, extension.httpsRedirectPath, out);
  }
  if (value.placement !== undefined) {
    extension.placement = checkPlacement(value.placement, keyPath(path, "placement"), out);
  }
  if (value.replicas !== undefined) {
    extension.replicas = checkReplicas(value.replicas, extension.replicasPath, out);
  }
  if (value.front !== undefined) {
    extension.front = checkBoolean(value.front, keyPath(path, "front"), out);
  }
  return extension;
}

function readReplicas(
  def: Record<string, unknown>,
  fromDeploy: number | undefined,
  extension: Extension,
  path: string,
  out: { problems: Problems; warnings: Problems },
): number {
  const scale = def.scale === undefined
    ? undefined
    : checkReplicas(def.scale, keyPath(path, "scale"), out.problems);
  const set = [fromDeploy, scale, extension.replicas].filter((n) => n !== undefined);
  if (set.length > 1) {
    out.problems.push({
      path: extension.replicas !== undefined ? extension.replicasPath : keyPath(path, "scale"),
      message: "the number of replicas is set in more than one place (deploy.replicas, scale, " +
        "x-fossora.replicas); set it in one",
    });
  }
  return set[0] ?? 1;
}

function memReservation(
  def: Record<string, unknown>,
  path: string,
  out: Problems,
): ServiceSpec["resources"] {
  if (def.mem_reservation === undefined) return undefined;
  const memory = parseBytes(def.mem_reservation);
  if (memory !== undefined) return { memory };
  out.push({
    path: keyPath(path, "mem_reservation"),
    message: expected("memory such as 512m", def.mem_reservation),
  });
  return undefined;
}

/** `environment` and `env_file` together: `environment` wins, as in compose. */
function readEnvironment(
  def: Record<string, unknown>,
  path: string,
  ctx: ServiceContext,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (def.env_file !== undefined) {
    const at = keyPath(path, "env_file");
    const list = Array.isArray(def.env_file) ? def.env_file : [def.env_file];
    list.forEach((item, i) => {
      const itemPath = Array.isArray(def.env_file) ? indexPath(at, i) : at;
      const file = isMapping(item) ? item.path : item;
      const required = isMapping(item) ? item.required !== false : true;
      if (typeof file !== "string" || file === "") {
        ctx.out.problems.push({
          path: itemPath,
          message: expected("a file path such as .env", item),
        });
        return;
      }
      const text = sentFile(ctx.files, file);
      if (text === undefined) {
        if (required) {
          ctx.out.problems.push({
            path: itemPath,
            message: `the env file ${file} was not sent with the compose file: deploy with ` +
              "`fossora deploy FILE`, which reads it beside the file (or write the variables " +
              "under environment)",
          });
        }
        return;
      }
      Object.assign(env, parseEnvFile(text, `${itemPath} (${file})`, ctx.lookup, ctx.out));
    });
  }
  if (def.environment !== undefined && def.environment !== null) {
    Object.assign(
      env,
      composeEnvironment(def.environment, keyPath(path, "environment"), ctx.lookup, ctx.out),
    );
  }
  return env;
}

/** `ports` and `expose`, with the http port chosen (x-fossora.http, else the first unpublished). */
function readPorts(
  def: Record<string, unknown>,
  extension: Extension,
  path: string,
  out: { problems: Problems; warnings: Problems },
): { ports: PortSpec[]; paths: PortPaths[] } {
  // `unsaid`: a `ports` entry with no host port whose reader said nothing (a loopback-bound one
  // was warned about already); Docker would publish it on a random host port.
  const read: { entry: ComposePort; at: string; unsaid?: boolean }[] = [];
  const at = keyPath(path, "ports");
  if (Array.isArray(def.ports)) {
    def.ports.forEach((item, i) => {
      const itemPath = indexPath(at, i);
      const warned = out.warnings.length;
      for (const entry of composePorts(item, itemPath, out)) {
        const unsaid = entry.published === undefined && out.warnings.length === warned;
        read.push({ entry, at: itemPath, unsaid });
      }
    });
  } else if (def.ports !== undefined) {
    out.problems.push({
      path: at,
      message: expected('a list of ports such as ["8080:80"]', def.ports),
    });
  }
  const exposeAt = keyPath(path, "expose");
  if (Array.isArray(def.expose)) {
    def.expose.forEach((item, i) => {
      const itemPath = indexPath(exposeAt, i);
      for (const entry of composePorts(item, itemPath, out)) {
        const { container, protocol } = entry;
        if (!read.some((r) => r.entry.container === container && r.entry.protocol === protocol)) {
          read.push({ entry: protocol ? { container, protocol } : { container }, at: itemPath });
        }
      }
    });
  } else if (def.expose !== undefined) {
    out.problems.push({
      path: exposeAt,
      message: expected('a list of ports such as ["3000"]', def.expose),
    });
  }
  const httpPort = extension.http ??
    read.find(({ entry }) => entry.published === undefined && !entry.protocol)?.entry.container;
  const found: { ports: PortSpec[]; paths: PortPaths[] } = { ports: [], paths: [] };
  let httpTaken = false;
  for (const { entry, at, unsaid } of read) {
    const http: boolean = !httpTaken && entry.container === httpPort && !entry.protocol;
    httpTaken ||= http;
    if (unsaid && !http) {
      out.warnings.push({
        path: at,
        message: `container port ${entry.container} has no host port, and fossora does not ` +
          "publish on random host ports: the stack's services reach it by name; write " +
          `"${entry.container}:${entry.container}${
            entry.protocol === "udp" ? "/udp" : ""
          }" to publish it on every node`,
      });
    }
    const port: PortSpec = { container: entry.container, http };
    if (entry.published !== undefined) port.published = entry.published;
    if (entry.protocol) port.protocol = entry.protocol;
    if (found.ports.some((p) => samePort(p, port))) continue;
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
  if (extension.http === undefined && !found.ports.some((p) => p.http)) {
    // `"8096:8096"`: maybe the web interface; the node running it checks (SPEC: URL detection).
    for (const port of found.ports) {
      if (port.published !== undefined && !port.protocol) port.detectHttp = true;
    }
  }
  if (extension.httpsRedirect !== undefined) {
    const http = found.ports.find((port) => port.http);
    if (http === undefined) {
      out.problems.push({
        path: extension.httpsRedirectPath,
        message: "the service has no http port to redirect to https; give it one with " +
          "x-fossora.http",
      });
    } else if (extension.httpsRedirect) http.httpsRedirect = true;
  }
  return found;
}

/** The same container port listed twice (in `ports` and `expose`, or twice) is one port. */
function samePort(a: PortSpec, b: PortSpec): boolean {
  return a.container === b.container && a.protocol === b.protocol &&
    a.published === b.published;
}

/** `volumes` and `tmpfs`, sorted by kind. */
function readMounts(
  def: Record<string, unknown>,
  path: string,
  key: string,
  ctx: ServiceContext,
) {
  const found = {
    volumes: [] as VolumeSpec[],
    volumePaths: [] as string[],
    binds: [] as BindSpec[],
    anonymous: [] as string[],
    tmpfs: [] as { path: string; size?: number; mode?: number }[],
  };
  const mounts: { mount: ComposeMount; at: string }[] = [];
  const at = keyPath(path, "volumes");
  if (Array.isArray(def.volumes)) {
    def.volumes.forEach((item, i) => {
      const mount = composeMount(item, indexPath(at, i), ctx.out);
      if (mount) mounts.push({ mount, at: indexPath(at, i) });
    });
  } else if (def.volumes !== undefined) {
    ctx.out.problems.push({
      path: at,
      message: expected('a list of volumes such as ["data:/data"]', def.volumes),
    });
  }
  const tmpfsAt = keyPath(path, "tmpfs");
  const tmpfsList = typeof def.tmpfs === "string" ? [def.tmpfs] : def.tmpfs;
  if (Array.isArray(tmpfsList)) {
    tmpfsList.forEach((item, i) => {
      const mount = composeTmpfs(item, indexPath(tmpfsAt, i), ctx.out);
      if (mount) mounts.push({ mount, at: indexPath(tmpfsAt, i) });
    });
  } else if (def.tmpfs !== undefined) {
    ctx.out.problems.push({
      path: tmpfsAt,
      message: expected('a list of paths such as ["/run"]', def.tmpfs),
    });
  }
  const seen = new Map<string, string>();
  for (const { mount, at } of mounts) {
    const where = normalizePath(mount.path);
    const earlier = seen.get(where);
    if (earlier !== undefined) {
      ctx.out.problems.push({
        path: at,
        message: `path ${mount.path} is already mounted by ${earlier}; mount one thing per path`,
      });
      continue;
    }
    seen.set(where, at);
    if (mount.kind === "volume") {
      if (!mount.fromPath) declaredVolume(mount.name, at, ctx);
      found.volumes.push({
        name: mount.name,
        path: mount.path,
        ...(mount.readOnly ? { readOnly: true } : {}),
      });
      found.volumePaths.push(at);
      const user = ctx.volumeUsers.get(mount.name);
      if (user === undefined) ctx.volumeUsers.set(mount.name, key);
      else if (user !== key) {
        ctx.out.warnings.push({
          path: at,
          message: `volume '${mount.name}' is also mounted by service ${user}: services that ` +
            "share a volume run on the same node, and move together",
        });
      }
    } else if (mount.kind === "bind") {
      found.binds.push({
        source: mount.source,
        path: mount.path,
        ...(mount.readOnly ? { readOnly: true } : {}),
      });
      if (mount.source === "/var/run/docker.sock" || mount.source === "/run/docker.sock") {
        ctx.out.warnings.push({
          path: at,
          message: "mounts the node's Docker socket: the service can start any container, " +
            "read every secret and take over the node; keep it only for tools that manage Docker",
        });
      }
    } else if (mount.kind === "anonymous") found.anonymous.push(mount.path);
    else {
      const { kind: _k, ...tmpfs } = mount;
      found.tmpfs.push(tmpfs);
    }
  }
  return found;
}

/**
 * Compose refuses a named volume missing from the top-level `volumes`; `docker run` makes it.
 * fossora makes it too, and says so, since the name is often a placeholder (`path_to_data`).
 */
function declaredVolume(name: string, at: string, ctx: ServiceContext): void {
  if (ctx.declaredVolumes?.has(name)) return;
  ctx.out.warnings.push({
    path: at,
    message: `volume '${name}' is not declared under the top-level volumes (docker compose ` +
      "would refuse it); fossora makes it, as docker run does; write a host path such as " +
      `/srv/${name} instead to mount a folder of the node`,
  });
}

function readNetworkMode(
  value: unknown,
  path: string,
  out: { problems: Problems; warnings: Problems },
): boolean {
  if (value === undefined) return false;
  if (value === "host") {
    out.warnings.push({
      path,
      message: "host: the container shares the node's network: it can listen on any port of " +
        "the node and see its traffic; one replica runs per node, reached at the node's address",
    });
    return true;
  }
  if (value === "bridge" || value === "default") {
    out.warnings.push({ path, message: "is ignored: containers run in their stack's network" });
    return false;
  }
  out.problems.push({
    path,
    message: typeof value === "string" && /^(service|container):/.test(value)
      ? `'${value}' shares another container's network, which fossora cannot do across ` +
        "nodes: remove it and reach the other service by name"
      : `${expected("host or bridge", value)}`,
  });
  return false;
}

/** The compose key when it is not the DNS label, `links` aliases, and network aliases. */
function readAliases(
  key: string,
  label: string | undefined,
  def: Record<string, unknown>,
  path: string,
  ctx: ServiceContext,
): string[] {
  const aliases = new Set<string>();
  if (label !== undefined && label !== key) aliases.add(key);
  const networks = def.networks;
  if (isMapping(networks)) {
    for (const [, settings] of entries(networks)) {
      if (isMapping(settings) && Array.isArray(settings.aliases)) {
        for (const alias of settings.aliases) if (typeof alias === "string") aliases.add(alias);
      }
    }
  }
  if (networks !== undefined) {
    ctx.out.warnings.push({
      path: keyPath(path, "networks"),
      message: "is ignored: every service of the stack reaches every other by its name, on any " +
        "node" + (aliases.size > (label !== key ? 1 : 0) ? " (the aliases are kept)" : ""),
    });
  }
  if (def.links !== undefined) {
    ctx.out.warnings.push({
      path: keyPath(path, "links"),
      message: "is ignored: every service of the stack reaches every other by its name",
    });
  }
  const valid = [...aliases].filter((alias) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(alias));
  return valid;
}

/** `expose`: ports the stack reaches by name, one of which may be the http port too. */
function exposeWarning(
  spec: ServiceSpec,
  exposed: unknown,
  path: string,
  ctx: ServiceContext,
): void {
  const listed = Array.isArray(exposed) ? exposed.map((item) => Number(item)) : [];
  const http = spec.ports.find((port) => port.http && listed.includes(port.container));
  ctx.out.warnings.push({
    path,
    message: "the stack's services reach these ports by the service's name; nothing outside " +
      "the cluster does" +
      (http === undefined
        ? ""
        : `, except the http port ${http.container}, served at http://${spec.name}.DOMAIN/`),
  });
}

/** A service's `secrets` or `configs`: names of the top-level ones, short or long form. */
function readFileMounts(
  value: unknown,
  path: string,
  secret: boolean,
  ctx: ServiceContext,
): FileMount[] {
  if (value === undefined) return [];
  const declared = secret ? ctx.secrets : ctx.configs;
  const what = secret ? "secret" : "config";
  if (!Array.isArray(value)) {
    ctx.out.problems.push({ path, message: expected(`a list of ${what} names`, value) });
    return [];
  }
  const mounts: FileMount[] = [];
  value.forEach((item, i) => {
    const at = indexPath(path, i);
    const source = isMapping(item) ? item.source : item;
    if (typeof source !== "string" || !declared.has(source)) {
      ctx.out.problems.push({
        path: at,
        message: typeof source === "string"
          ? `${what} '${source}' is not declared under the top-level ${what}s; declare it with file: PATH`
          : expected(`a ${what} name`, item),
      });
      return;
    }
    const target = isMapping(item) && typeof item.target === "string" ? item.target : undefined;
    const mountPath = target?.startsWith("/")
      ? target
      : secret
      ? `/run/secrets/${target ?? source}`
      : `/${target ?? source}`;
    const mount: FileMount = { name: source, path: mountPath, secret };
    if (isMapping(item)) {
      if (item.mode !== undefined) {
        const mode = typeof item.mode === "number" ? item.mode : parseInt(String(item.mode), 8);
        if (Number.isInteger(mode) && mode >= 0 && mode <= 0o777) mount.mode = mode;
        else {ctx.out.problems.push({
            path: keyPath(at, "mode"),
            message: expected("a file mode such as 0440", item.mode),
          });}
      }
      for (const key of ["uid", "gid"] as const) {
        const id = item[key];
        if (id === undefined) continue;
        if (typeof id === "string" || Number.isInteger(id)) mount[key] = String(id);
        else {
          ctx.out.problems.push({
            path: keyPath(at, key),
            message: expected("a user or group id such as 1000", id),
          });
        }
      }
    }
    mounts.push(mount);
  });
  return mounts;
}

function readDependsOn(
  value: unknown,
  path: string,
  self: string,
  ctx: ServiceContext,
): Dependency[] {
  if (value === undefined) return [];
  const list: [unknown, unknown, string][] = Array.isArray(value)
    ? value.map((item, i) => [item, "service_started", indexPath(path, i)])
    : isMapping(value)
    ? entries(value).map((
      [name, v],
    ) => [name, isMapping(v) ? v.condition ?? "service_started" : v, keyPath(path, name)])
    : [];
  const optional = (name: unknown) =>
    isMapping(value) && isMapping(value[String(name)]) &&
    (value[String(name)] as Record<string, unknown>).required === false;
  if (!Array.isArray(value) && !isMapping(value)) {
    ctx.out.problems.push({
      path,
      message: expected("a list of service names, or a mapping with conditions", value),
    });
  }
  const deps: Dependency[] = [];
  for (const [name, condition, at] of list) {
    if (typeof name !== "string") {
      ctx.out.problems.push({ path: at, message: expected("a service name", name) });
      continue;
    }
    if (!ctx.keys.has(name) || name === self) {
      ctx.out.problems.push({
        path: at,
        message: name === self
          ? "a service cannot depend on itself"
          : `'${name}' is not a service of this file; list services of the file only`,
      });
      continue;
    }
    if (ctx.notDeployed.has(name) && optional(name)) {
      ctx.out.warnings.push({
        path: at,
        message: `'${name}' is not deployed (none of its profiles is active), and this ` +
          "dependency is required: false, so the service starts without it, as with compose",
      });
      continue;
    }
    if (ctx.notDeployed.has(name)) {
      // Its replicas would never start, so this service would wait for ever.
      ctx.out.problems.push({
        path: at,
        message: `'${name}' is not deployed, since none of its profiles is active: set ` +
          "COMPOSE_PROFILES to deploy it too, or remove it here",
      });
      continue;
    }
    const kinds = {
      service_started: "started",
      service_healthy: "healthy",
      service_completed_successfully: "completed",
    } as const;
    const kind = Object.hasOwn(kinds, String(condition))
      ? kinds[String(condition) as keyof typeof kinds]
      : undefined;
    if (kind === undefined) {
      ctx.out.problems.push({
        path: at,
        message: `${
          expected("service_started, service_healthy or service_completed_successfully", condition)
        }`,
      });
      continue;
    }
    deps.push({ service: name, condition: kind });
  }
  return deps;
}
