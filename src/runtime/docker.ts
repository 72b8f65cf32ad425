/**
 * The narrow Docker interface the runtime drives, and its implementation over dockerode. Every
 * call has a deadline so a hung engine turns into an error the loop reports, never a stuck loop.
 * @module
 */
import Docker from "dockerode";
import { Buffer } from "node:buffer";

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
}

/** What the runtime asks Docker to create. */
export interface CreateOptions {
  name: string;
  image: string;
  /** Replaces the image's CMD when present. */
  cmd?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Container TCP ports, each published on a random host port on 0.0.0.0. */
  ports: number[];
  /** Docker named volumes mounted at container paths. */
  mounts: { volume: string; path: string }[];
}

/** One container event; the runtime only needs to know that something happened. */
export interface DockerEvent {
  id: string;
  action: string;
}

/** Options for reading a container's log. */
export interface LogOptions {
  follow: boolean;
  tail?: number;
  signal?: AbortSignal;
}

/** The Docker operations the runtime uses. Errors are `DockerError` where Docker answered. */
export interface DockerApi {
  /** All containers (running or not) carrying every given label, inspected. */
  list(labels: Record<string, string>): Promise<ContainerState[]>;
  /** One container by id or name; undefined when it does not exist. */
  inspect(idOrName: string): Promise<ContainerState | undefined>;
  hasImage(image: string): Promise<boolean>;
  /** Pulls an image; rejects with Docker's message when the pull fails. */
  pull(image: string): Promise<void>;
  /** Creates a named volume, or keeps it when it exists. */
  ensureVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Creates a container and returns its id; a name in use rejects with status 409. */
  create(options: CreateOptions): Promise<string>;
  /** Starts a container; starting a running one is not an error. */
  start(id: string): Promise<void>;
  /** Stops a container, killing it after `graceSeconds`; a stopped or missing one is fine. */
  stop(id: string, graceSeconds: number): Promise<void>;
  /** Removes a container (never its volumes); a missing one is fine. */
  remove(id: string): Promise<void>;
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

/** Runs `fn` with a signal that aborts after `ms`; a timeout rejects with a clear message. */
async function withDeadline<T>(
  what: string,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort();
  }, ms);
  try {
    return await fn(ctl.signal);
  } catch (err) {
    if (timedOut) throw new DockerError(`${what}: docker did not answer within ${ms} ms`);
    throw toDockerError(err, what);
  } finally {
    clearTimeout(timer);
  }
}

function parseTime(s: unknown): number {
  if (typeof s !== "string" || s.startsWith("0001-")) return 0;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : 0;
}

type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null> | undefined;

function hostPorts(ports: PortMap): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, proto] = key.split("/");
    if (proto !== "tcp" || !bindings?.length) continue;
    const b = bindings.find((x) => !x.HostIp.includes(":")) ?? bindings[0];
    const n = Number(b.HostPort);
    if (n > 0) out[port] = n;
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
    ports: hostPorts(info.NetworkSettings?.Ports as PortMap),
  };
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

class DockerodeApi implements DockerApi {
  constructor(private docker: Docker, private t: DockerTimeouts) {}

  async list(labels: Record<string, string>): Promise<ContainerState[]> {
    const rows = await withDeadline(
      "docker list",
      this.t.call,
      (abortSignal) =>
        this.docker.listContainers({
          all: true,
          filters: { label: labelFilter(labels) },
          abortSignal,
        } as Docker.ContainerListOptions),
    );
    const states = await Promise.all(rows.map((r) => this.inspect(r.Id)));
    return states.filter((s): s is ContainerState => s !== undefined);
  }

  async inspect(idOrName: string): Promise<ContainerState | undefined> {
    try {
      const info = await withDeadline(
        "docker inspect",
        this.t.call,
        (abortSignal) => this.docker.getContainer(idOrName).inspect({ abortSignal }),
      );
      return toState(info);
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return undefined;
      throw err;
    }
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await withDeadline(
        "docker image inspect",
        this.t.call,
        (abortSignal) =>
          this.docker.getImage(image).inspect({ abortSignal } as Record<string, unknown>),
      );
      return true;
    } catch (err) {
      if (err instanceof DockerError && err.status === 404) return false;
      throw err;
    }
  }

  pull(image: string): Promise<void> {
    return withDeadline("docker pull", this.t.pull, async (abortSignal) => {
      const stream = await this.docker.pull(image, { abortSignal });
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          stream,
          (err: unknown, out: { error?: string; errorDetail?: { message?: string } }[]) => {
            const failed = out?.find((o) => o.error || o.errorDetail);
            if (err) reject(err);
            else if (failed) {
              reject(new DockerError(failed.errorDetail?.message ?? failed.error ?? "pull failed"));
            } else resolve();
          },
        );
      });
    });
  }

  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    await withDeadline(
      "docker volume create",
      this.t.call,
      (abortSignal) => this.docker.createVolume({ Name: name, Labels: labels, abortSignal }),
    );
  }

  async create(o: CreateOptions): Promise<string> {
    const exposed: Record<string, Record<string, never>> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of o.ports) {
      exposed[`${p}/tcp`] = {};
      bindings[`${p}/tcp`] = [{ HostIp: "0.0.0.0", HostPort: "" }];
    }
    const c = await withDeadline(
      "docker create",
      this.t.call,
      (abortSignal) =>
        this.docker.createContainer({
          name: o.name,
          Image: o.image,
          Cmd: o.cmd,
          Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
          Labels: o.labels,
          ExposedPorts: exposed,
          HostConfig: {
            PortBindings: bindings,
            Mounts: o.mounts.map((m) => ({ Type: "volume", Source: m.volume, Target: m.path })),
            RestartPolicy: { Name: "no" },
          },
          abortSignal,
        }),
    );
    return c.id;
  }

  async start(id: string): Promise<void> {
    try {
      await withDeadline(
        "docker start",
        this.t.call,
        (abortSignal) => this.docker.getContainer(id).start({ abortSignal }),
      );
    } catch (err) {
      if (!(err instanceof DockerError && err.status === 304)) throw err;
    }
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    try {
      await withDeadline(
        "docker stop",
        this.t.call + graceSeconds * 1000,
        (abortSignal) => this.docker.getContainer(id).stop({ t: graceSeconds, abortSignal }),
      );
    } catch (err) {
      if (!(err instanceof DockerError && (err.status === 304 || err.status === 404))) throw err;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await withDeadline(
        "docker rm",
        this.t.call,
        (abortSignal) =>
          this.docker.getContainer(id).remove({ force: true, v: false, abortSignal }),
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

  async logs(id: string, o: LogOptions): Promise<ReadableStream<Uint8Array>> {
    const container = this.docker.getContainer(id);
    const base = { stdout: true, stderr: true, tail: o.tail ?? "all" };
    if (!o.follow) {
      const buf = await withDeadline(
        "docker logs",
        this.t.call,
        (abortSignal) =>
          container.logs(
            { ...base, follow: false, abortSignal } as Docker.ContainerLogsOptions & {
              follow?: false;
            },
          ),
      );
      // docker-modem hands back parsed JSON when the whole log happens to be valid JSON.
      const bytes = buf instanceof Uint8Array
        ? new Uint8Array(buf)
        : new TextEncoder().encode(typeof buf === "string" ? buf : JSON.stringify(buf));
      return new ReadableStream({
        start(ctl) {
          if (bytes.length) ctl.enqueue(bytes);
          ctl.close();
        },
      });
    }
    const signal = o.signal ?? new AbortController().signal;
    const stream = await this.#openStream(
      "docker logs",
      signal,
      (abortSignal) =>
        container.logs(
          { ...base, follow: true, abortSignal } as Docker.ContainerLogsOptions & {
            follow: true;
          },
        ),
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
