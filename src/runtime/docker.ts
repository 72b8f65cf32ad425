/**
 * The narrow Docker interface the runtime drives, and its implementation over dockerode. Every
 * call has a deadline so a hung engine turns into an error the loop reports, never a stuck loop,
 * and takes a signal so stopping the agent never waits for Docker (a pull can take minutes).
 * @module
 */
import Docker from "dockerode";
import { Buffer } from "node:buffer";
import type { BindSpec, ContainerOptions, DeviceSpec, Healthcheck } from "../state/mod.ts";
import { portKey } from "../state/types.ts";
import { CancelledError, untilAborted } from "./abort.ts";
import { createRequest } from "./create_body.ts";

export { LOG_CONFIG } from "./create_body.ts";

/** A container as the runtime needs to see it (from `docker inspect`). */
export interface ContainerState {
  id: string;
  /** Without the leading slash. */
  name: string;
  labels: Record<string, string>;
  image: string;
  /** Docker's `State.Status`: created, running, paused, restarting, removing, exited, dead. */
  status: string;
  running: boolean;
  exitCode: number;
  /** Docker's `State.Error`, empty when none. */
  error: string;
  /** Milliseconds since the epoch; 0 when never started. */
  startedAt: number;
  /** Milliseconds since the epoch; 0 when it has not finished. */
  finishedAt: number;
  /** Container TCP port (as a string) -> published host port. */
  ports: Record<string, number>;
  /** Its health check's verdict, when it has one (the image's or the spec's). */
  health?: ContainerHealth;
  /** Seconds its stop signal is given before SIGKILL, when it was created with its own. */
  stopTimeout?: number;
  /** Docker network name -> the container's IPv4 address on it. */
  networks?: Record<string, string>;
  /** TCP ports the container exposes (the image's EXPOSE and the create's), ascending. */
  exposed?: number[];
}

/** Docker's `State.Health`, in short. */
export interface ContainerHealth {
  status: "starting" | "healthy" | "unhealthy";
  /** What the last check printed, trimmed and shortened. */
  output: string;
}

/** What the runtime asks Docker to create. */
export interface CreateOptions {
  name: string;
  image: string;
  /** Replaces the image's CMD when present. */
  cmd?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /**
   * Container ports, each published on a random host port on `hostIp`; an `internal` one is
   * only exposed (reached on the container's own network, never on the node's address).
   */
  ports: { container: number; protocol?: "udp"; internal?: boolean }[];
  /**
   * The host address ports are published on: the node's address, so a replica is reachable
   * there (by other nodes' proxies) and not on every interface. "0.0.0.0" means every one.
   */
  hostIp: string;
  /** Docker named volumes mounted at container paths. */
  mounts: { volume: string; path: string; readOnly?: boolean }[];
  /** Replaces the image's health check when present. */
  healthcheck?: Healthcheck;
  /** Host paths bind-mounted into the container. */
  binds?: BindSpec[];
  /** Host devices given to the container. */
  devices?: DeviceSpec[];
  /** Runs in the node's network namespace: `ports` are then the node's own, not published. */
  hostNetwork?: boolean;
  /** Docker's settings of the container (user, capabilities, limits…). */
  container?: ContainerOptions;
  /** The Docker network the container joins instead of the default bridge. */
  network?: string;
  /** Lines added to the container's `/etc/hosts`, `NAME:ADDRESS` (Docker's ExtraHosts). */
  hosts?: string[];
  /** The DNS servers the container uses (Docker's Dns). */
  dns?: string[];
}

/** One container event; the runtime only needs to know that something happened. */
export interface DockerEvent {
  id: string;
  action: string;
}

/** Options for reading a container's log. */
export interface LogOptions {
  follow: boolean;
  /** The last `tail` lines only; the whole log when undefined. */
  tail?: number;
  /** Ends the stream (and the request to Docker) when it aborts. */
  signal?: AbortSignal;
}

/**
 * The Docker operations the runtime uses. Errors are `DockerError` where Docker answered (or
 * did not in time). Every call takes an optional `signal`: when it aborts the call rejects at
 * once (the real one with a `CancelledError`) and its request to Docker is abandoned; what Docker
 * already did stays done, carrying its labels, so a later pass adopts or removes it.
 */
export interface DockerApi {
  /** All containers (running or not) carrying every given label, inspected. */
  list(labels: Record<string, string>, signal?: AbortSignal): Promise<ContainerState[]>;
  /** One container by id or name; undefined when it does not exist. */
  inspect(idOrName: string, signal?: AbortSignal): Promise<ContainerState | undefined>;
  /** Whether the image is here, and of `platform` (`os/arch[/variant]`) when one is given. */
  hasImage(image: string, signal?: AbortSignal, platform?: string): Promise<boolean>;
  /**
   * The platforms an image is built for (`linux/arm64`…): the registry's list, else, for an
   * image built or loaded here (no registry digest), the one it has; undefined when unknown.
   */
  platforms(image: string, signal?: AbortSignal): Promise<string[] | undefined>;
  /**
   * Pulls an image, for `platform` when one is given (a multi-arch image then resolves to it);
   * rejects with Docker's message when the pull fails.
   */
  pull(image: string, signal?: AbortSignal, platform?: string): Promise<void>;
  /** Creates a named volume, or keeps it when it exists. */
  ensureVolume(name: string, labels: Record<string, string>, signal?: AbortSignal): Promise<void>;
  /** Creates a container and returns its id; a name in use rejects with status 409. */
  create(options: CreateOptions, signal?: AbortSignal): Promise<string>;
  /** Starts a container; starting a running one is not an error. */
  start(id: string, signal?: AbortSignal): Promise<void>;
  /** Stops a container, killing it after `graceSeconds`; a stopped or missing one is fine. */
  stop(id: string, graceSeconds: number, signal?: AbortSignal): Promise<void>;
  /**
   * Removes a container with its anonymous volumes (as `docker rm -v`: never a named volume);
   * a missing one is fine.
   */
  remove(id: string, signal?: AbortSignal): Promise<void>;
  /** Connects to the event stream of containers carrying every label; ends when `signal` aborts. */
  events(labels: Record<string, string>, signal: AbortSignal): Promise<AsyncIterable<DockerEvent>>;
  /** The container's raw log stream (Docker's multiplexed format when the container has no TTY). */
  logs(id: string, options: LogOptions): Promise<ReadableStream<Uint8Array>>;
}

/** An error Docker answered with, or a timeout/connection error, with Docker's own message. */
export class DockerError extends Error {
  /** HTTP status Docker answered with; undefined when Docker did not answer. */
  readonly status?: number;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "DockerError";
    this.status = status;
  }
}

/** Deadlines for Docker calls, in milliseconds. */
export interface DockerTimeouts {
  /** Ordinary calls (inspect, create, start...). Default 30 s. */
  call: number;
  /** An image pull. Default 15 min: large images on a slow link are normal. */
  pull: number;
  /** Opening the event or log stream. Default 10 s. */
  connect: number;
}

const DEFAULT_TIMEOUTS: DockerTimeouts = { call: 30_000, pull: 900_000, connect: 10_000 };

/** Turns whatever dockerode threw into a DockerError carrying Docker's message. */
export function toDockerError(err: unknown, what: string): DockerError {
  if (err instanceof DockerError) return err;
  const e = err as { statusCode?: number; json?: unknown; message?: string } | undefined;
  const json = e?.json as { message?: string } | undefined;
  let message = typeof json?.message === "string" ? json.message : e?.message ?? String(err);
  if (e?.statusCode === undefined) message = `${what}: ${message}`;
  return new DockerError(message.trim(), e?.statusCode);
}

/** Parses `unix:///path` or `tcp://host:port` into dockerode options, or explains the mistake. */
export function parseDockerHost(dockerHost: string): Docker.DockerOptions {
  if (dockerHost.startsWith("unix://")) {
    const socketPath = dockerHost.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new Error(`bad docker host "${dockerHost}": use unix:///path/to/docker.sock`);
    }
    return { socketPath };
  }
  const m = /^tcp:\/\/([^:/]+):(\d{1,5})\/?$/.exec(dockerHost);
  if (m && Number(m[2]) > 0 && Number(m[2]) < 65536) {
    return { host: m[1], port: Number(m[2]), protocol: "http" };
  }
  throw new Error(
    `bad docker host "${dockerHost}": use unix:///var/run/docker.sock or tcp://host:port`,
  );
}

/** Builds the real DockerApi over dockerode for `unix:///...` or `tcp://host:port`. */
export function createDockerApi(
  dockerHost: string,
  timeouts: Partial<DockerTimeouts> = {},
): DockerApi {
  return new DockerodeApi(new Docker(parseDockerHost(dockerHost)), {
    ...DEFAULT_TIMEOUTS,
    ...timeouts,
  });
}

/**
 * Runs `fn` with a signal that aborts after `ms` or when `outer` aborts, and returns as soon as
 * either happens even if `fn` does not notice. A timeout rejects with a clear DockerError, an
 * abort of `outer` with a CancelledError.
 */
async function withDeadline<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  if (outer?.aborted) throw new CancelledError(`${what}: cancelled`);
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, ms);
  const cancel = () => ctl.abort();
  outer?.addEventListener("abort", cancel, { once: true });
  try {
    return await untilAborted(fn(ctl.signal), ctl.signal, what);
  } catch (err) {
    if (timedOut) throw new DockerError(`${what}: docker did not answer within ${ms} ms`);
    if (outer?.aborted) throw new CancelledError(`${what}: cancelled`);
    throw toDockerError(err, what);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", cancel);
  }
}

type PullProgress = { error?: string; errorDetail?: { message?: string } }[];

/**
 * Waits for a pull's progress stream to end. Aborting destroys the stream, which frees the
 * connection and makes Docker drop the pull; without that a destroyed stream would look like a
 * pull that finished.
 */
function followPull(
  modem: Docker["modem"],
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const destroy = () => {
      (stream as unknown as { destroy(): void }).destroy();
      reject(new Error("pull stopped"));
    };
    if (signal.aborted) return destroy();
    signal.addEventListener("abort", destroy, { once: true });
    modem.followProgress(stream, (err: unknown, out: PullProgress) => {
      signal.removeEventListener("abort", destroy);
      const failed = out?.find((o) => o.error || o.errorDetail);
      if (err) reject(err);
      else if (failed) {
        reject(new DockerError(failed.errorDetail?.message ?? failed.error ?? "pull failed"));
      } else resolve();
    });
  });
}

function parseTime(s: unknown): number {
  if (typeof s !== "string" || s.startsWith("0001-")) return 0;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : 0;
}

type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null> | undefined;

/** In the node's network namespace a container port is the node's port of the same number. */
function ownPorts(exposed: Record<string, unknown> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(exposed ?? {})) {
    const [port, proto] = key.split("/");
    const n = Number(port);
    if ((proto !== "tcp" && proto !== "udp") || !(n > 0)) continue;
    out[portKey({ container: n, protocol: proto === "udp" ? "udp" : undefined })] = n;
  }
  return out;
}

function hostPorts(ports: PortMap): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, proto] = key.split("/");
    if ((proto !== "tcp" && proto !== "udp") || !bindings?.length) continue;
    const b = bindings.find((x) => !x.HostIp.includes(":")) ?? bindings[0];
    const n = Number(b.HostPort);
    if (n > 0) {
      out[portKey({ container: Number(port), protocol: proto === "udp" ? "udp" : undefined })] = n;
    }
  }
  return out;
}

function toState(info: Docker.ContainerInspectInfo): ContainerState {
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ""),
    labels: info.Config?.Labels ?? {},
    image: info.Config?.Image ?? "",
    status: info.State.Status,
    running: info.State.Running,
    exitCode: info.State.ExitCode,
    error: info.State.Error ?? "",
    startedAt: parseTime(info.State.StartedAt),
    finishedAt: parseTime(info.State.FinishedAt),
    ports: info.HostConfig?.NetworkMode === "host"
      ? ownPorts(info.Config?.ExposedPorts)
      : hostPorts(info.NetworkSettings?.Ports as PortMap),
    ...health(info.State.Health),
    ...stopTimeout((info.Config as { StopTimeout?: unknown } | undefined)?.StopTimeout),
    networks: networkAddresses(info.NetworkSettings?.Networks),
    exposed: exposedTcp(info.Config?.ExposedPorts),
  };
}

function stopTimeout(t: unknown): { stopTimeout?: number } {
  return typeof t === "number" && Number.isInteger(t) && t >= 0 ? { stopTimeout: t } : {};
}

function networkAddresses(
  networks: Record<string, { IPAddress?: string }> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, n] of Object.entries(networks ?? {})) if (n?.IPAddress) out[name] = n.IPAddress;
  return out;
}

function exposedTcp(exposed: Record<string, unknown> | undefined): number[] {
  const out: number[] = [];
  for (const key of Object.keys(exposed ?? {})) {
    const [port, proto] = key.split("/");
    const n = Number(port);
    if ((proto ?? "tcp") === "tcp" && Number.isInteger(n) && n > 0 && n < 65536) out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/** What a health check's output may add to a replica's message. */
const HEALTH_OUTPUT_CHARS = 200;

function health(h: Docker.ContainerInspectInfo["State"]["Health"]): { health?: ContainerHealth } {
  const status = h?.Status;
  if (status !== "starting" && status !== "healthy" && status !== "unhealthy") return {};
  const last = (h?.Log ?? []).at(-1)?.Output?.trim() ?? "";
  const output = last.length > HEALTH_OUTPUT_CHARS
    ? `${last.slice(0, HEALTH_OUTPUT_CHARS)}…`
    : last;
  return { health: { status, output } };
}

function labelFilter(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/** Reads a Node stream of newline-delimited JSON as events, stopping when `signal` aborts. */
async function* eventLines(
  stream: NodeJS.ReadableStream,
  signal: AbortSignal,
): AsyncIterable<DockerEvent> {
  const destroy = () => (stream as unknown as { destroy(): void }).destroy();
  signal.addEventListener("abort", destroy, { once: true });
  let rest = "";
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      rest += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (!line) continue;
        const ev = JSON.parse(line) as { id?: string; Action?: string; status?: string };
        yield { id: ev.id ?? "", action: ev.Action ?? ev.status ?? "" };
      }
    }
  } catch (err) {
    if (!signal.aborted) throw toDockerError(err, "docker event stream");
  } finally {
    signal.removeEventListener("abort", destroy);
    destroy();
  }
}

/** Adapts a Node readable to a web ReadableStream that destroys it on cancel or abort. */
function toWebStream(
  stream: NodeJS.ReadableStream,
  signal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const node = stream as unknown as NodeJS.ReadableStream & { destroy(): void };
  const iter = (node as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const stop = () => node.destroy();
  signal?.addEventListener("abort", stop, { once: true });
  const done = () => signal?.removeEventListener("abort", stop);
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      try {
        const r = await iter.next();
        if (r.done || signal?.aborted) {
          done();
          ctl.close();
        } else {
          ctl.enqueue(new Uint8Array(r.value));
        }
      } catch (err) {
        done();
        if (signal?.aborted) ctl.close();
        else ctl.error(toDockerError(err, "docker log stream"));
      }
    },
    cancel() {
      done();
      stop();
    },
  });
}

/** True when an inspected image is of `platform` (`os/arch[/variant]`; no variant: any). */
function samePlatform(
  info: { Os?: string; Architecture?: string; Variant?: string },
  platform: string,
): boolean {
  const [os, arch, variant] = platform.split("/");
  return info.Os === os && info.Architecture === arch &&
    // An engine that does not say the variant is trusted: pulling again offline would fail.
    (variant === undefined || !info.Variant || info.Variant === variant);
}

class DockerodeApi implements DockerApi {
  constructor(private docker: Docker, private t: DockerTimeouts) {}

  async list(labels: Record<string, string>, signal?: AbortSignal): Promise<ContainerState[]> {
    const rows = await withDeadline(
      "docker list",
      this.t.call,
      (abortSignal) =>
        this.docker.listContainers({
          all: true,
          filters: { label: labelFilter(labels) },
          abortSignal,
        } as Docker.ContainerListOptions),
      signal,
    );
    const states = await Promise.all(rows.map((r) => this.inspect(r.Id, signal)));
    return states.filter((s): s is ContainerState => s !== undefined);
  }

  async inspect(idOrName: string, signal?: AbortSignal): Promise<ContainerState | undefined> {
    try {
      const info = await withDeadline(
        "docker inspect",
        this.t.call,
        (abortSignal) => this.docker.getContainer(idOrName).inspect({ abortSignal }),
        signal,
      );
      return toState(info);
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return undefined;
      throw err;
    }
  }

  async platforms(image: string, signal?: AbortSignal): Promise<string[] | undefined> {
    try {
      const found = await withDeadline(
        "docker distribution inspect",
        Math.min(this.t.call, 10_000),
        (abortSignal) =>
          this.docker.getImage(image).distribution({ abortSignal } as Record<string, unknown>),
        signal,
      ) as { Platforms?: { os?: string; architecture?: string }[] };
      const list = (found.Platforms ?? []).flatMap((p) =>
        p.os && p.architecture && p.os !== "unknown" ? [`${p.os}/${p.architecture}`] : []
      );
      if (list.length > 0) return [...new Set(list)];
    } catch (err) {
      if (signal?.aborted) throw err;
      // No registry (offline, a private image, a local one): what is here may tell.
    }
    try {
      const info = await withDeadline(
        "docker image inspect",
        this.t.call,
        (abortSignal) =>
          this.docker.getImage(image).inspect({ abortSignal } as Record<string, unknown>),
        signal,
      );
      // A pulled image may be built for more platforms than the one pulled here.
      if (info.RepoDigests?.length || !info.Os || !info.Architecture) return undefined;
      return [`${info.Os}/${info.Architecture}`];
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return undefined;
      throw err;
    }
  }

  async hasImage(image: string, signal?: AbortSignal, platform?: string): Promise<boolean> {
    try {
      const info = await withDeadline(
        "docker image inspect",
        this.t.call,
        (abortSignal) =>
          this.docker.getImage(image).inspect({ abortSignal } as Record<string, unknown>),
        signal,
      );
      return platform === undefined || samePlatform(info, platform);
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return false;
      throw err;
    }
  }

  pull(image: string, signal?: AbortSignal, platform?: string): Promise<void> {
    return withDeadline("docker pull", this.t.pull, async (abortSignal) => {
      const stream = await this.docker.pull(image, { abortSignal, ...(platform && { platform }) });
      await followPull(this.docker.modem, stream, abortSignal);
    }, signal);
  }

  async ensureVolume(
    name: string,
    labels: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<void> {
    await withDeadline(
      "docker volume create",
      this.t.call,
      (abortSignal) => this.docker.createVolume({ Name: name, Labels: labels, abortSignal }),
      signal,
    );
  }

  async create(o: CreateOptions, signal?: AbortSignal): Promise<string> {
    const { query, body } = createRequest(o);
    // Query and body apart: dockerode would otherwise put the whole body in the URL too.
    const c = await withDeadline(
      "docker create",
      this.t.call,
      (abortSignal) =>
        this.docker.createContainer(
          { _query: query, _body: body, abortSignal } as unknown as Docker.ContainerCreateOptions,
        ),
      signal,
    );
    return c.id;
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await withDeadline(
        "docker start",
        this.t.call,
        (abortSignal) => this.docker.getContainer(id).start({ abortSignal }),
        signal,
      );
    } catch (err) {
      if (!(err instanceof DockerError && err.status === 304)) throw err;
    }
  }

  async stop(id: string, graceSeconds: number, signal?: AbortSignal): Promise<void> {
    try {
      await withDeadline(
        "docker stop",
        this.t.call + graceSeconds * 1000,
        (abortSignal) => this.docker.getContainer(id).stop({ t: graceSeconds, abortSignal }),
        signal,
      );
    } catch (err) {
      if (!(err instanceof DockerError && (err.status === 304 || err.status === 404))) throw err;
    }
  }

  async remove(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await withDeadline(
        "docker rm",
        this.t.call,
        (abortSignal) => this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }),
        signal,
      );
    } catch (err) {
      if (!(err instanceof DockerError && err.status === 404)) throw err;
    }
  }

  async events(
    labels: Record<string, string>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<DockerEvent>> {
    const stream = await this.#openStream(
      "docker events",
      signal,
      (abortSignal) =>
        this.docker.getEvents({
          filters: { type: ["container"], label: labelFilter(labels) },
          abortSignal,
        } as Docker.GetEventsOptions),
    );
    return eventLines(stream, signal);
  }

  /**
   * Streams the log in both modes: Docker sends it as it reads its log file, so a huge log is
   * never held in memory (dockerode would buffer a non-follow answer whole).
   */
  async logs(id: string, o: LogOptions): Promise<ReadableStream<Uint8Array>> {
    const signal = o.signal ?? new AbortController().signal;
    const stream = await this.#openStream(
      "docker logs",
      signal,
      (abortSignal) =>
        new Promise<NodeJS.ReadableStream>((resolve, reject) => {
          this.docker.modem.dial({
            path: `/containers/${encodeURIComponent(id)}/logs?`,
            method: "GET",
            abortSignal,
            isStream: true,
            statusCodes: { 200: true, 404: "no such container", 500: "server error" },
            options: { stdout: true, stderr: true, follow: o.follow, tail: o.tail ?? "all" },
          }, (err, data) => err ? reject(err) : resolve(data as NodeJS.ReadableStream));
        }),
    );
    return toWebStream(stream, signal);
  }

  /**
   * Opens a long-lived stream: the deadline covers only connecting, and `signal` (the caller's)
   * ends the stream later.
   */
  async #openStream(
    what: string,
    signal: AbortSignal,
    open: (abortSignal: AbortSignal) => Promise<NodeJS.ReadableStream>,
  ): Promise<NodeJS.ReadableStream> {
    const ctl = new AbortController();
    const forward = () => ctl.abort();
    if (signal.aborted) ctl.abort();
    signal.addEventListener("abort", forward, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.t.connect);
    try {
      const stream = await open(ctl.signal);
      // The request keeps the controller's signal; a later abort by the caller destroys it.
      stream.on("close", () => signal.removeEventListener("abort", forward));
      return stream;
    } catch (err) {
      signal.removeEventListener("abort", forward);
      if (timedOut) {
        throw new DockerError(`${what}: docker did not answer within ${this.t.connect} ms`);
      }
      throw toDockerError(err, what);
    } finally {
      clearTimeout(timer);
    }
  }
}
