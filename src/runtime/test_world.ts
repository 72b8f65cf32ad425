/**
 * One real-engine test's world for the runtime's tests: a random node id and service names (so
 * tests running in parallel never see each other's containers), the reports a runtime made, and
 * cleanup of every container and volume it made, even when the test fails.
 * @module
 */
import type { ReplicaStatus, ServiceSpec } from "../state/types.ts";
import { createDockerApi, type DockerApi } from "./docker.ts";
import type { WantedReplica } from "./labels.ts";
import { Runtime, type RuntimeOptions } from "./runtime.ts";

/** The locally built busybox image (scripts/lib.sh): httpd on port 80. */
export const IMAGE = "fossora-test/busybox:1";
/** This machine's engine. */
export const SOCKET = "unix:///var/run/docker.sock";

/** 8 random hex characters, for names no other test uses. */
export function rand(): string {
  return crypto.randomUUID().slice(0, 8);
}

/** Runs the docker CLI and returns its output; a failure throws with its stderr. */
export async function docker(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`docker ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** Polls `check` every 100 ms until it gives a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A one-replica service of the busybox image serving HTTP on port 80, changed by `over`. */
export function spec(name: string, over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    image: IMAGE,
    replicas: 1,
    ports: [{ container: 80, http: true }],
    env: {},
    volumes: [],
    placement: {},
    ...over,
  };
}

/** The wanted replicas of `s` at `generation`. */
export function wanted(s: ServiceSpec, generation = 1, replicas = [0]): WantedReplica[] {
  return replicas.map((replica) => ({ service: s.name, replica, generation, spec: s }));
}

/** The api's methods as plain functions, so single ones can be wrapped. */
export function bind(api: DockerApi): DockerApi {
  return {
    list: (l, s) => api.list(l, s),
    inspect: (i, s) => api.inspect(i, s),
    hasImage: (i, s, p) => api.hasImage(i, s, p),
    platforms: (i, s) => api.platforms(i, s),
    pull: (i, s, p) => api.pull(i, s, p),
    ensureVolume: (n, l, s) => api.ensureVolume(n, l, s),
    create: (o, s) => api.create(o, s),
    start: (i, s) => api.start(i, s),
    stop: (i, g, s) => api.stop(i, g, s),
    remove: (i, s) => api.remove(i, s),
    events: (l, s) => api.events(l, s),
    logs: (i, o) => api.logs(i, o),
  };
}

/** One test's world: a node id, the reports it got, and cleanup of everything it made. */
export class World {
  readonly node = `t-${rand()}`;
  readonly reports: ReplicaStatus[] = [];
  readonly forgotten: string[] = [];
  readonly runtimes: Runtime[] = [];
  readonly services: string[] = [];
  readonly extra: string[] = [];
  /** Times the runtime listed containers, i.e. passes it made. */
  lists = 0;
  readonly api: DockerApi;

  constructor() {
    const real = createDockerApi(SOCKET);
    this.api = {
      ...bind(real),
      list: (labels, signal) => {
        this.lists++;
        return real.list(labels, signal);
      },
    };
  }

  service(): string {
    const name = `s${rand()}`;
    this.services.push(name);
    return name;
  }

  runtime(over: Partial<RuntimeOptions> = {}): Runtime {
    const rt = new Runtime({
      docker: this.api,
      nodeId: this.node,
      address: "127.0.0.1",
      report: (s) => void this.reports.push(s),
      forget: (service, replica) => void this.forgotten.push(`${service}/${replica}`),
      resyncMs: 1_000,
      probeMs: 200,
      // busybox as PID 1 ignores SIGTERM: do not wait the production 10 s for each stop.
      stopGraceSeconds: 1,
      ...over,
    });
    this.runtimes.push(rt);
    return rt;
  }

  async cleanup(): Promise<void> {
    for (const rt of this.runtimes) await rt.stop();
    const ids = await docker("ps", "-aq", "--filter", `label=fossora.node=${this.node}`);
    const all = [...ids.split("\n"), ...this.extra].filter(Boolean);
    if (all.length) await docker("rm", "-f", "-v", ...all).catch(() => {});
    for (const s of this.services) {
      const vols = await docker("volume", "ls", "-q", "--filter", `label=fossora.service=${s}`);
      if (vols) await docker("volume", "rm", "-f", ...vols.split("\n"));
    }
  }
}

/** Runs `fn` in a fresh world and cleans it up however `fn` ends. */
export async function inWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const w = new World();
  try {
    await fn(w);
  } finally {
    await w.cleanup();
  }
}

/** The statuses once `n` replicas are running and ready (and each passes `also`). */
export function ready(
  rt: Runtime,
  n: number,
  also: (r: ReplicaStatus) => boolean = () => true,
): ReplicaStatus[] | undefined {
  const s = rt.status();
  const ok = s.length === n && s.every((r) => r.state === "running" && r.ready && also(r));
  return ok ? s : undefined;
}
