/**
 * The body of Docker's container create call for what the runtime asks, built as `docker run`
 * builds it from its flags: each of a service's container settings lands in the field Docker
 * reads it from, so it does exactly what Docker does with it. Pure, so every field is checked
 * without an engine.
 * @module
 */
import type { ContainerOptions, Healthcheck } from "../state/types.ts";
import { parseDuration } from "../spec/mod.ts";
import type { CreateOptions } from "./docker.ts";

/**
 * The log driver of every container fossora creates: json-file, rotated at 10 MB with 3 files
 * kept, so a chatty container cannot fill the node's disk.
 */
export const LOG_CONFIG = {
  Type: "json-file",
  Config: { "max-size": "10m", "max-file": "3" },
} as const;

/** The part of the create call Docker reads from the query string. */
export interface CreateQuery {
  name: string;
  /** `os/arch[/variant]`: the image must be of this platform (and is picked so from a list). */
  platform?: string;
}

/** Docker's `Config` + `HostConfig` of a container, as far as fossora sets them. */
export type CreateBody = Record<string, unknown> & { HostConfig: Record<string, unknown> };

/** Seconds a stop waits for the container, from the spec's Go duration; rounded up. */
export function graceSeconds(stopGracePeriod: string | undefined): number | undefined {
  if (stopGracePeriod === undefined) return undefined;
  const ms = parseDuration(stopGracePeriod);
  return ms === undefined ? undefined : Math.ceil(ms / 1000);
}

/** The spec's check in Docker's terms: durations in nanoseconds, 0 for the image's or default. */
function dockerHealthcheck(h: Healthcheck): Record<string, unknown> {
  const ns = (d: string | undefined) => Math.round((d ? parseDuration(d) ?? 0 : 0) * 1e6);
  return {
    Test: h.test,
    Interval: ns(h.interval),
    Timeout: ns(h.timeout),
    StartPeriod: ns(h.startPeriod),
    Retries: h.retries ?? 0,
  };
}

/** `--tmpfs PATH:size=…,mode=…` as Docker's HostConfig.Tmpfs map. */
function tmpfs(list: NonNullable<ContainerOptions["tmpfs"]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of list) {
    const opts = [
      ...(t.size !== undefined ? [`size=${t.size}`] : []),
      ...(t.mode !== undefined ? [`mode=${t.mode.toString(8)}`] : []),
    ];
    out[t.path] = opts.join(",");
  }
  return out;
}

/** Config fields of the container's process (`--user`, `--workdir`, `--entrypoint`…). */
function processConfig(c: ContainerOptions): Record<string, unknown> {
  const grace = graceSeconds(c.stopGracePeriod);
  return {
    ...(c.user !== undefined ? { User: c.user } : {}),
    ...(c.workingDir !== undefined ? { WorkingDir: c.workingDir } : {}),
    // `[]` is kept as is: Docker reads an empty list as "no entrypoint", not as "the image's".
    ...(c.entrypoint !== undefined ? { Entrypoint: c.entrypoint } : {}),
    ...(c.stopSignal !== undefined ? { StopSignal: c.stopSignal } : {}),
    ...(grace !== undefined ? { StopTimeout: grace } : {}),
  };
}

/** HostConfig fields of privileges and kernel settings (`--cap-add`, `--sysctl`, `--ulimit`…). */
function hostSettings(c: ContainerOptions): Record<string, unknown> {
  const limits = c.limits ?? {};
  return {
    ...(c.capAdd?.length ? { CapAdd: c.capAdd } : {}),
    ...(c.capDrop?.length ? { CapDrop: c.capDrop } : {}),
    ...(c.privileged ? { Privileged: true } : {}),
    ...(c.sysctls && Object.keys(c.sysctls).length ? { Sysctls: c.sysctls } : {}),
    ...(c.shmSize !== undefined ? { ShmSize: c.shmSize } : {}),
    ...(c.tmpfs?.length ? { Tmpfs: tmpfs(c.tmpfs) } : {}),
    ...(c.readOnly ? { ReadonlyRootfs: true } : {}),
    ...(c.securityOpt?.length ? { SecurityOpt: c.securityOpt } : {}),
    ...(c.init !== undefined ? { Init: c.init } : {}),

    ...(c.ulimits?.length
      ? { Ulimits: c.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })) }
      : {}),
    ...(c.groupAdd?.length ? { GroupAdd: c.groupAdd } : {}),
    ...(c.deviceCgroupRules?.length ? { DeviceCgroupRules: c.deviceCgroupRules } : {}),
    ...(c.runtime ? { Runtime: c.runtime } : {}),
    ...(limits.cpus !== undefined ? { NanoCpus: Math.round(limits.cpus * 1e9) } : {}),
    ...(limits.memory !== undefined ? { Memory: limits.memory } : {}),
    ...(limits.pids !== undefined ? { PidsLimit: limits.pids } : {}),
  };
}

/** Every mount: fossora's named volumes, host paths, and a fresh anonymous volume per path. */
function mounts(o: CreateOptions): Record<string, unknown>[] {
  return [
    ...o.mounts.map((m) => ({
      Type: "volume",
      Source: m.volume,
      Target: m.path,
      ...(m.readOnly ? { ReadOnly: true } : {}),
    })),
    ...(o.binds ?? []).map((b) => ({
      Type: "bind",
      Source: b.source,
      Target: b.path,
      ReadOnly: b.readOnly === true,
    })),
    // No Source: Docker makes a new volume for this container, and `rm -v` removes it.
    ...(o.container?.anonymousVolumes ?? []).map((path) => ({ Type: "volume", Target: path })),
  ];
}

/**
 * The service's own labels without any in fossora's namespace: those are fossora's alone (one
 * such as `fossora.once` would otherwise change how the node treats the container).
 */
function serviceLabels(labels: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels ?? {}).filter(([key]) => !key.startsWith("fossora.")),
  );
}

/**
 * The query and body of `POST /containers/create` for `o`. Labels in fossora's namespace are
 * fossora's alone, so a service can never pose as another or hide from its node. With host networking
 * the ports are not published (they are the node's own already) but still exposed, which is how
 * the runtime later reads them back.
 */
export function createRequest(o: CreateOptions): { query: CreateQuery; body: CreateBody } {
  const c = o.container ?? {};
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of o.ports) {
    const key = `${p.container}/${p.protocol ?? "tcp"}`;
    exposed[key] = {};
    // A stack's container-only port is reached through the stack network, never the node's.
    if (!p.internal) bindings[key] = [{ HostIp: o.hostIp, HostPort: "" }];
  }
  const body: CreateBody = {
    Image: o.image,
    Cmd: o.cmd,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...serviceLabels(c.labels), ...o.labels },
    ExposedPorts: exposed,
    ...processConfig(c),
    ...(o.healthcheck ? { Healthcheck: dockerHealthcheck(o.healthcheck) } : {}),
    HostConfig: {
      ...(o.hostNetwork
        ? { NetworkMode: "host" }
        : { PortBindings: bindings, ...(o.network ? { NetworkMode: o.network } : {}) }),
      ...(o.dns?.length ? { Dns: o.dns } : {}),
      Mounts: mounts(o),
      ...((o.devices ?? []).length
        ? {
          Devices: o.devices!.map((d) => ({
            PathOnHost: d.host,
            PathInContainer: d.container ?? d.host,
            CgroupPermissions: d.permissions ?? "rwm",
          })),
        }
        : {}),
      ...hostSettings(c),
      // The stack's names first; the service's own lines may add to them.
      ...(o.hosts?.length || c.extraHosts?.length
        ? { ExtraHosts: [...o.hosts ?? [], ...c.extraHosts ?? []] }
        : {}),
      RestartPolicy: { Name: "no" },
      LogConfig: { Type: LOG_CONFIG.Type, Config: { ...LOG_CONFIG.Config } },
    },
  };
  const query: CreateQuery = { name: o.name, ...(c.platform ? { platform: c.platform } : {}) };
  return { query, body };
}
