/**
 * Runs this node's etcd member as a child process: starts it, waits until it answers `/health`,
 * restarts it with backoff when it dies, and stops it cleanly. A member left running by an agent
 * that was killed is found by its pid file and stopped before a new one starts.
 * @module
 */
import type { Logger } from "../util/log.ts";
import { silentLogger } from "../util/log.ts";
import { Backoff } from "../util/backoff.ts";
import { exists } from "../util/files.ts";
import { splitLines } from "../util/lines.ts";
import { parseEtcdLine } from "./log_line.ts";
import { type NodeCerts, nodeHttpClient } from "./certs.ts";
import { DEFAULT_TIMING, type EtcdTiming, timingProblem } from "./timing.ts";

/** Options of an {@link EtcdSupervisor}. */
export interface EtcdOptions {
  /** The etcd server binary. */
  bin: string;
  /** Where etcd keeps its data (`DATA_DIR/etcd`). */
  dataDir: string;
  /** The member name: the node id. */
  name: string;
  clientPort: number;
  peerPort: number;
  /** Host the member advertises to peers and clients (loopback for a lone node). */
  host?: string;
  /**
   * Address it listens on (`--bind-addr`); default `host`. A member that listens beyond loopback
   * also listens on 127.0.0.1 for clients, so the agent reaches it whatever its address.
   */
  listenHost?: string;
  /**
   * Join an existing cluster (the member was added by the leader) rather than found a new one:
   * etcd's `--initial-cluster` as the leader answered it. Used only when the data dir is new.
   */
  initialCluster?: string;
  log?: Logger;
  /** How long to wait for a started member to become healthy (default 30 s). */
  startTimeoutMs?: number;
  /**
   * This node's certificates: when set, clients and peers must speak mutual TLS with a
   * certificate from the same CA, and the health check presents this node's certificate.
   */
  tls?: NodeCerts;
  /** `--heartbeat-interval` in ms (etcd's default 100 when unset); see ./timing.ts. */
  heartbeatMs?: number;
  /** `--election-timeout` in ms (etcd's default 1000 when unset). */
  electionMs?: number;
}

/** Supervises one etcd child process. */
export class EtcdSupervisor {
  #child: Deno.ChildProcess | undefined;
  #healthy = false;
  #stopping = false;
  /** Counts stop() calls, so a start that a stop overtook spawns nothing. */
  #stops = 0;
  #monitor: ReturnType<typeof setInterval> | undefined;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #exited: Promise<void> = Promise.resolve();
  #http: Deno.HttpClient | undefined;
  readonly #backoff = new Backoff({ initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 });
  readonly #log: Logger;
  /** Set only when the options or a retune asked for it: etcd's defaults need no flags. */
  #timing: Partial<EtcdTiming>;
  /** Times the child was started, for tests and metrics. */
  starts = 0;

  constructor(readonly options: EtcdOptions) {
    this.#log = options.log ?? silentLogger;
    this.#timing = { heartbeatMs: options.heartbeatMs, electionMs: options.electionMs };
    const problem = timingProblem(this.timing);
    if (problem) throw new Error(`etcd timing: ${problem}`);
  }

  /** The heartbeat interval and election timeout the member runs (or will run) with. */
  get timing(): EtcdTiming {
    return {
      heartbeatMs: this.#timing.heartbeatMs ?? DEFAULT_TIMING.heartbeatMs,
      electionMs: this.#timing.electionMs ?? DEFAULT_TIMING.electionMs,
    };
  }

  /** The URL clients dial. */
  get clientUrl(): string {
    return `${this.#scheme}://${this.#hostPart}:${this.options.clientPort}`;
  }

  /**
   * The URL this node's own agent dials: loopback, where the member always listens (on its own,
   * or through a wildcard), whatever the advertised address and the bind address are.
   */
  get localClientUrl(): string {
    return `${this.#scheme}://127.0.0.1:${this.options.clientPort}`;
  }

  /** The URL peers dial; `--initial-advertise-peer-urls`. */
  get peerUrl(): string {
    return `${this.#scheme}://${this.#hostPart}:${this.options.peerPort}`;
  }

  get #hostPart(): string {
    return this.#host.includes(":") ? `[${this.#host}]` : this.#host;
  }

  /** True when the last health check passed. */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** The child's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get #scheme(): string {
    return this.options.tls ? "https" : "http";
  }

  get #host(): string {
    return this.options.host ?? "127.0.0.1";
  }

  get #pidFile(): string {
    return `${this.options.dataDir}.pid`;
  }

  /** Starts the member and resolves once it is healthy; throws if it does not get there. */
  async start(): Promise<void> {
    await this.#launch();
    if (!(await this.#becomesHealthy())) {
      if (this.#stopping) throw new Error("etcd was stopped before it became healthy");
      await this.stop();
      throw new Error(
        `etcd did not become healthy within ${this.#startTimeoutMs} ms; ` +
          `check the etcd lines above and the data in ${this.options.dataDir}`,
      );
    }
  }

  get #startTimeoutMs(): number {
    return this.options.startTimeoutMs ?? 30_000;
  }

  /**
   * Spawns the member, supervised from here on (restarted when it dies, until stop()). A stop()
   * since `stops` was counted wins: nothing is spawned after it.
   */
  async #launch(stops = this.#stops): Promise<void> {
    await Deno.mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    await this.#stopLeftover();
    const http = this.#http ?? await this.#httpClient();
    if (this.#stops !== stops) {
      if (http !== this.#http) http?.close();
      throw new Error("etcd was stopped before it started");
    }
    this.#http = http;
    this.#stopping = false;
    this.#spawn();
    clearInterval(this.#monitor);
    this.#monitor = setInterval(() => void this.checkHealth(), 2000);
  }

  /** Polls `/health` until it passes (true), or the start timeout or a stop() comes (false). */
  async #becomesHealthy(): Promise<boolean> {
    const deadline = Date.now() + this.#startTimeoutMs;
    while (!this.#stopping && !(await this.checkHealth())) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return !this.#stopping;
  }

  /**
   * Stops the member cleanly and starts it with `timing`, resolving once it is healthy again.
   * Unlike a first start, a member that is not healthy in time is left running (and restarted
   * should it die): a cluster that lost its leader meanwhile may come back, and a member that
   * runs is of more use to it than one that was stopped.
   */
  async restartWith(timing: EtcdTiming): Promise<void> {
    const problem = timingProblem(timing);
    if (problem) throw new Error(`etcd timing: ${problem}`);
    // Counted before stopping: a stop() from elsewhere while this one runs wins.
    const stops = this.#stops + 1;
    await this.stop();
    this.#timing = { ...timing };
    await this.#launch(stops);
    if (!(await this.#becomesHealthy())) {
      if (this.#stopping) throw new Error("etcd was stopped before it became healthy");
      throw new Error(
        `etcd was not healthy within ${this.#startTimeoutMs} ms of its restart with new timing; ` +
          "it keeps running; check the etcd lines above",
      );
    }
  }

  /** Asks etcd's `/health` endpoint; updates {@link healthy}. */
  async checkHealth(): Promise<boolean> {
    try {
      const res = await fetch(`${this.localClientUrl}/health`, {
        signal: AbortSignal.timeout(1500),
        client: this.#http,
      });
      const body = await res.json() as { health?: string };
      this.#healthy = res.ok && body.health === "true";
    } catch {
      this.#healthy = false;
    }
    return this.#healthy;
  }

  /** Stops the member: SIGTERM, then SIGKILL after 10 s. No restart follows. */
  async stop(): Promise<void> {
    this.#stops++;
    this.#stopping = true;
    clearInterval(this.#monitor);
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 10_000);
      await this.#exited;
      clearTimeout(killer);
    }
    this.#healthy = false;
    this.#http?.close();
    this.#http = undefined;
    await Deno.remove(this.#pidFile).catch(() => {});
  }

  /** With TLS, `/health` answers only a client that shows a certificate from the cluster CA. */
  #httpClient(): Promise<Deno.HttpClient | undefined> {
    const tls = this.options.tls;
    return tls ? nodeHttpClient(tls) : Promise.resolve(undefined);
  }

  #args(): string[] {
    const { name, dataDir, clientPort, peerPort, initialCluster } = this.options;
    const peer = this.peerUrl;
    const listen = this.options.listenHost ?? this.#host;
    const url = (host: string, port: number) =>
      `${this.#scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
    const clients = [url(listen, clientPort)];
    // A member on one address also takes loopback clients (a wildcard takes them already).
    if (!/^(127\.|0\.0\.0\.0$|::$)/.test(listen)) clients.push(url("127.0.0.1", clientPort));
    return [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${[...new Set(clients)].join(",")}`,
      `--advertise-client-urls=${this.clientUrl}`,
      `--listen-peer-urls=${url(listen, peerPort)}`,
      `--initial-advertise-peer-urls=${peer}`,
      ...(initialCluster
        ? [`--initial-cluster=${initialCluster}`, "--initial-cluster-state=existing"]
        : [`--initial-cluster=${name}=${peer}`, "--initial-cluster-state=new"]),
      `--initial-cluster-token=fossora-${name}`,
      "--logger=zap",
      "--log-level=warn",
      "--auto-compaction-retention=1h",
      // A member cut off for a while comes back without forcing an election (etcd 3.5's
      // default; 3.4, Debian's, has it off): every node's lease keepalives would stall on it.
      "--pre-vote=true",
      // The agent's client pings every 2 s to notice a voter cut off (see client.ts); etcd's
      // default would answer pings that often with GOAWAY.
      "--grpc-keepalive-min-time=1s",
      ...(this.#timing.heartbeatMs ? [`--heartbeat-interval=${this.#timing.heartbeatMs}`] : []),
      ...(this.#timing.electionMs ? [`--election-timeout=${this.#timing.electionMs}`] : []),
      ...tlsArgs(this.options.tls),
    ];
  }

  #spawn(): void {
    const env: Record<string, string> = {};
    if (Deno.build.arch === "aarch64") env.ETCD_UNSUPPORTED_ARCH = "arm64";
    const child = new Deno.Command(this.options.bin, {
      args: this.#args(),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.starts++;
    this.#child = child;
    Deno.writeTextFileSync(this.#pidFile, String(child.pid));
    this.#log.info("etcd started", { pid: child.pid, client: this.clientUrl });
    const output = Promise.all([this.#relay(child.stdout), this.#relay(child.stderr)]);
    this.#exited = child.status.then(async (status) => {
      await output;
      this.#onExit(child, status);
    });
  }

  /** Passes etcd's own lines to our log, one event per line. */
  async #relay(stream: ReadableStream<Uint8Array>): Promise<void> {
    const lines = stream.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines());
    for await (const line of lines) {
      const event = parseEtcdLine(line);
      if (event) this.#log[event.level](event.msg, event.fields);
    }
  }

  #onExit(child: Deno.ChildProcess, status: Deno.CommandStatus): void {
    if (this.#child === child) this.#child = undefined;
    this.#healthy = false;
    if (this.#stopping) {
      this.#log.info("etcd stopped", { code: status.code, signal: status.signal ?? undefined });
      return;
    }
    const delay = this.#backoff.next(Date.now());
    this.#log.error("etcd exited; restarting", {
      code: status.code,
      signal: status.signal,
      delayMs: delay,
    });
    this.#restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      try {
        this.#spawn();
      } catch (err) {
        this.#log.error("cannot start etcd", { err });
        this.#onExit(child, status);
      }
    }, delay);
  }

  /** A member whose pid file survived a killed agent still holds our ports and data. */
  async #stopLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number(await Deno.readTextFile(this.#pidFile));
    } catch {
      return;
    }
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (!cmdline.includes(`--data-dir=${this.options.dataDir}`)) return;
    this.#log.warn("stopping an etcd left running by an earlier agent", { pid });
    try {
      Deno.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 100 && await exists(`/proc/${pid}`); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (await exists(`/proc/${pid}`)) Deno.kill(pid, "SIGKILL");
  }
}

/** etcd's flags for mutual TLS: one certificate serves clients and peers alike. */
export function tlsArgs(tls: NodeCerts | undefined): string[] {
  if (!tls) return [];
  return [
    `--cert-file=${tls.certFile}`,
    `--key-file=${tls.keyFile}`,
    `--trusted-ca-file=${tls.caFile}`,
    "--client-cert-auth",
    `--peer-cert-file=${tls.certFile}`,
    `--peer-key-file=${tls.keyFile}`,
    `--peer-trusted-ca-file=${tls.caFile}`,
    "--peer-client-cert-auth",
  ];
}
