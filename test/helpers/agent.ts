/**
 * A real `fossora agent` process for system tests: its own data dir and free ports, etcd as its
 * child, containers on the machine's dockerd. Disposing it stops the agent and removes its
 * containers, volumes and data, even when the test failed.
 */
import { AGENT_V8_FLAGS } from "../../src/agent/v8_flags.ts";
import { apiFetch, apiJson } from "./http.ts";
import { freePort } from "./ports.ts";
import { GiveUp, waitFor } from "./wait.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

/** Ports of one agent. */
export interface AgentPorts {
  api: number;
  apiTls: number;
  http: number;
  https: number;
  dns: number;
  etcdClient: number;
  etcdPeer: number;
}

/** How a test agent differs from the default one. */
export interface TestAgentOptions {
  /**
   * `--advertise-addr`, where replicas' ports are published and dialled; default 127.0.0.1. The
   * bench passes the machine's own address: Docker relays loopback-published ports through its
   * userland docker-proxy, a node's LAN address through kernel NAT, as on a real node.
   */
  advertiseAddr?: string;
  /** `--name`; default test-node. Nodes of one cluster need different names. */
  name?: string;
  /** More `fossora agent` flags (`--join`, `--token`...). */
  args?: string[];
}

/** A running agent. */
export class TestAgent implements AsyncDisposable {
  child: Deno.ChildProcess | undefined;
  readonly output: string[] = [];
  name = "test-node";
  extraArgs: string[] = [];
  #pump: Promise<void> = Promise.resolve();

  private constructor(
    readonly dataDir: string,
    readonly ports: AgentPorts,
    readonly domain: string,
    readonly extraEnv: Record<string, string>,
    readonly advertiseAddr = "127.0.0.1",
  ) {}

  /** Starts an agent in a new data dir and waits until it is ready. */
  static async start(
    env: Record<string, string> = {},
    options: TestAgentOptions = {},
  ): Promise<TestAgent> {
    const dataDir = await Deno.makeTempDir({ prefix: "fossora-agent-" });
    const ports = {
      api: freePort(),
      apiTls: freePort(),
      http: freePort(),
      https: freePort(),
      dns: freePort(),
      etcdClient: freePort(),
      etcdPeer: freePort(),
    };
    const agent = new TestAgent(dataDir, ports, "fossora.test", env, options.advertiseAddr);
    agent.name = options.name ?? agent.name;
    agent.extraArgs = options.args ?? [];
    try {
      await agent.restart();
    } catch (err) {
      await agent[Symbol.asyncDispose]();
      throw err;
    }
    return agent;
  }

  get api(): string {
    return `http://127.0.0.1:${this.ports.api}`;
  }

  /** The admin token the agent wrote into its data dir. */
  get token(): string {
    return Deno.readTextFileSync(`${this.dataDir}/admin-token`).trim();
  }

  /** The agent's node id. */
  get nodeId(): string {
    return Deno.readTextFileSync(`${this.dataDir}/node-id`).trim();
  }

  /** The arguments `fossora agent` runs with. */
  args(): string[] {
    const p = this.ports;
    return [
      "agent",
      `--data-dir=${this.dataDir}`,
      `--name=${this.name}`,
      `--advertise-addr=${this.advertiseAddr}`,
      "--bind-addr=127.0.0.1",
      `--api-port=${p.api}`,
      `--api-tls-port=${p.apiTls}`,
      `--http-port=${p.http}`,
      `--https-port=${p.https}`,
      `--dns-port=${p.dns}`,
      `--etcd-client-port=${p.etcdClient}`,
      `--etcd-peer-port=${p.etcdPeer}`,
      `--domain=${this.domain}`,
      "--discovery=none",
      `--config=${this.dataDir}/none.toml`,
      ...this.extraArgs,
    ];
  }

  /** Starts the process (after a stop) and waits for health. */
  async restart(): Promise<void> {
    await this.spawn();
    await waitFor(
      "the agent to be ready",
      async () => {
        if (this.exited) throw new GiveUp(`agent exited:\n${this.output.slice(-30).join("\n")}`);
        const res = await fetch(`${this.api}/api/v1/health`);
        await res.body?.cancel();
        return res.ok;
      },
      60_000,
      200,
    );
  }

  /** Starts the process (after a stop) without waiting for anything. */
  async spawn(): Promise<void> {
    await Deno.writeTextFile(`${this.dataDir}/none.toml`, "");
    this.child = new Deno.Command(DENO, {
      args: ["run", "-A", MAIN, ...this.args()],
      env: { FOSSORA_LOG_LEVEL: "debug", DENO_V8_FLAGS: v8Flags(), ...this.extraEnv },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#pump = Promise.all([this.#collect(this.child.stdout), this.#collect(this.child.stderr)])
      .then(() => {});
    this.#status = undefined;
    this.#ended = this.child.status.then((s) => this.#status = s);
  }

  get exited(): boolean {
    return this.#status !== undefined;
  }
  #status: Deno.CommandStatus | undefined;
  #ended: Promise<Deno.CommandStatus> | undefined;

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      this.output.push(...parts);
      if (Deno.env.get("FOSSORA_TEST_VERBOSE")) parts.forEach((l) => console.error(l));
    }
  }

  /** Sends a signal and waits for the process to end; returns its status. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus | undefined> {
    const child = this.child;
    if (!child) return undefined;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    const status = await this.#ended;
    await this.#pump;
    this.child = undefined;
    return status;
  }

  /** The whole node dies at once: the agent and its etcd member, both with SIGKILL. */
  async die(): Promise<void> {
    await this.stop("SIGKILL");
    await this.#stopLeftoverEtcd();
  }

  /** Calls the API with the admin token. */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return apiFetch(this.api, this.token, path, init);
  }

  /** Calls the API and parses the JSON answer, failing on an HTTP error. */
  json<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
    return apiJson<T>(this.api, this.token, path, init);
  }

  /** Runs the `fossora` CLI against this agent. */
  async cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return await this.cliWith({}, ...args);
  }

  /** Runs the CLI with more environment variables (and the working directory `env.PWD`). */
  async cliWith(
    env: Record<string, string>,
    ...args: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = await new Deno.Command(DENO, {
      args: ["run", "-A", MAIN, ...args],
      env: { ...env, FOSSORA_API: this.api, FOSSORA_DATA_DIR: this.dataDir },
      ...(env.PWD ? { cwd: env.PWD } : {}),
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    let nodeId: string | undefined;
    try {
      nodeId = this.nodeId;
    } catch { /* never started */ }
    await this.stop("SIGTERM").catch(() => {});
    await this.#stopLeftoverEtcd();
    if (nodeId) await removeContainers(nodeId);
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }

  /** An agent killed with SIGKILL leaves its etcd child running; nothing else would stop it. */
  async #stopLeftoverEtcd(): Promise<void> {
    const pid = Number(await Deno.readTextFile(`${this.dataDir}/etcd.pid`).catch(() => ""));
    if (!pid) return;
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (!cmdline.includes(this.dataDir)) return;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
    await waitFor(
      "the leftover etcd to exit",
      async () => {
        const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
        // A killed child of a dead agent is reaped by init; until then it is a zombie (Z).
        return stat === "" || / Z /.test(stat);
      },
      10_000,
      20,
    ).catch(() => {});
  }
}

async function docker(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** Removes every container and volume an agent with this node id created. */
export async function removeContainers(nodeId: string): Promise<void> {
  const ids = (await docker("ps", "-aq", "--filter", `label=fossora.node=${nodeId}`)).split("\n")
    .filter(Boolean);
  if (ids.length) await docker("rm", "-f", "-v", ...ids);
}

/** Runs docker and returns its stdout. */
export { docker };

/** The agent's production V8 flags, or FOSSORA_TEST_V8_FLAGS for memory experiments. */
function v8Flags(): string {
  return Deno.env.get("FOSSORA_TEST_V8_FLAGS") ?? AGENT_V8_FLAGS;
}
