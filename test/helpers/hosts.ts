/**
 * A cluster on one machine: N hosts, each a network namespace on a bridge with its own dockerd
 * (or another host's, `dockerOf`, for clusters larger than the machine runs engines) and its own
 * `fossora agent`, for system tests, benchmarks and `scripts/start --nodes N`.
 *
 * ```ts
 * await using cluster = await Hosts.create(3);
 * const [a, b] = cluster.hosts;
 * await a.exec(["curl", "-sf", `${b.api}/api/v1/health`]); // from inside host a
 * await b.json("/api/v1/nodes"); // from this process, over the bridge
 * ```
 *
 * Disposing the harness removes all of it (agents and their etcds, containers, dockerds and
 * their mounts, namespaces, veths, the bridge, the iptables rule, the directories), also when
 * the test failed, and so does SIGINT or SIGTERM of this process. When the process ends without
 * its teardown (`deno test` exits at once on Ctrl-C; SIGKILL), the slot's reaper process
 * removes it, and what even that missed is removed by the next harness (`hosts_slot.ts`). At most
 * `FOSSORA_TEST_HOSTS_PARALLEL` harnesses (default 2) run at once on the machine, across all
 * processes; a further one waits for a free slot, so a 2-core machine is not swamped.
 *
 * Agents get only the flags that make them a host of this harness (data dir, name, advertise
 * address, docker host, `--discovery=none`) and whatever the test adds, which wins over those.
 *
 * With `delayMs`, traffic from outside a host to its etcd peer, etcd client and API ports (and
 * the heartbeats, UDP on the API's port number) has that much latency added each way, as between two houses (this kernel has no netem): a relay
 * in the host's namespace (`delay_relay.ts`) holds every chunk, and a netfilter REDIRECT on
 * `eth0` sends those ports to it. The agents' flags and advertised URLs stay as they are. The
 * relay dials the port on loopback, so these servers see such connections come from 127.0.0.1:
 * etcd's peer port checks a peer certificate's IP against the connection's source, and node
 * certificates carry 127.0.0.1 (a relay outside the namespace would show its own address, which
 * no certificate carries). A host's own traffic to itself is not delayed.
 * @module
 */
import { AGENT_V8_FLAGS } from "../../src/agent/v8_flags.ts";
import {
  acquireSlot,
  alive,
  HOSTS_ROOT,
  type Slot,
  type SlotNames,
  startReaper,
  sweepSlot,
} from "./hosts_slot.ts";
import { apiFetch, apiJson } from "./http.ts";
import { must, run, type RunOptions, type RunResult } from "./run.ts";
import { GiveUp, waitFor } from "./wait.ts";

/** The image tests run as containers (`scripts/lib.sh` builds it). */
export const BUSYBOX_IMAGE = "fossora-test/busybox:1";
/** The WebSocket-capable image (`scripts/lib.sh` builds it); copied only when asked for. */
export const DENO_IMAGE = "fossora-test/deno:1";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const RELAY = new URL("./delay_relay.ts", import.meta.url).pathname;
/** A host's delay relay listens on these ports in its namespace, one a delayed port. */
const RELAY_PORT_BASE = 41001;
const DENO = Deno.execPath();
/** Host i is `net.i` on the harness's /24 and the bridge is `net.254`: 1..253 are free. */
const MAX_HOSTS = 253;
/**
 * Each dockerd (with its containerd) costs about 60 MB and a second of CPU to start: beyond this
 * many, hosts share engines (`dockerOf`).
 */
const MAX_DOCKERDS = 32;
/** Lines of agent output kept in memory a host (the whole output is in its log file). */
const KEEP_LINES = 20_000;

/** How a harness differs from the default one. */
export interface HostsOptions {
  /**
   * Flags every agent gets after the harness's own; a flag named here replaces the harness's
   * (e.g. `--discovery=mdns`). A function gives each host its own.
   */
  agentFlags?: string[] | ((host: Host) => string[]);
  /** Start every agent and wait until each is ready (default true); false leaves it to `start()`. */
  startAgents?: boolean;
  /** Images copied from this machine's dockerd into every host's (default: the busybox one). */
  images?: string[];
  /** The agents' `FOSSORA_LOG_LEVEL` (default info). */
  logLevel?: string;
  /** More environment for the agents. */
  env?: Record<string, string>;
  /** Remove everything and exit on SIGINT or SIGTERM of this process (default true). */
  handleSignals?: boolean;
  /** Told when the harness waits for a free slot (default: a line on stderr). */
  onWait?: (message: string) => void;
  /**
   * Latency added each way to traffic into every host's etcd peer, etcd client and API ports
   * (the round trip between two hosts grows by twice this); see the module's documentation.
   * The ports are read from the agent flags when the hosts are made. Default none.
   */
  delayMs?: number;
  /**
   * The index of the host whose dockerd host `index` uses (default: its own). A host that uses
   * another's starts none, so many hosts fit on one machine (e.g. 45 workers on one engine); the
   * agents on one engine keep apart by their node id (labels and container names). That host
   * must run its own. Containers publish ports on their node's address, which exists only in its
   * own namespace: on a shared engine, run services without published ports.
   */
  dockerOf?: (index: number) => number;
  /**
   * Each host gets a mount namespace of its own, which its dockerd and agent (and their
   * children) share, and where {@link Hosts.hostPaths} is an empty tmpfs: what a test makes
   * there with {@link Host.inMounts} only that host has, as a disk or a device only one machine
   * has. Every host must run its own dockerd (no `dockerOf`). Default false.
   */
  privateMounts?: boolean;
}

/** N hosts on a bridge; see the module's documentation. */
export class Hosts implements AsyncDisposable {
  /** The hosts, `node1` first. */
  readonly hosts: Host[] = [];
  #disposed: Promise<void> | undefined;

  private constructor(readonly slot: Slot, readonly options: HostsOptions) {}

  /**
   * Makes `n` hosts with their dockerds, copies the images into each, and (unless
   * `startAgents: false`) starts every agent and waits until each is ready. Waits first while
   * the machine runs as many harnesses as it allows.
   */
  static async create(n: number, options: HostsOptions = {}): Promise<Hosts> {
    if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) {
      throw new RangeError(`Hosts.create: give 1 to ${MAX_HOSTS} hosts, not ${n}`);
    }
    checkEngines(n, options.dockerOf);
    if (options.privateMounts && options.dockerOf) {
      throw new RangeError("Hosts.create: privateMounts needs every host to run its own dockerd");
    }
    // Fail on a missing image before taking a slot or making anything.
    const tars = await Promise.all((options.images ?? [BUSYBOX_IMAGE]).map(imageTar));
    const say = (m: string) => console.error(`hosts: ${m}`);
    const slot = await acquireSlot({ onWait: options.onWait ?? say, onProblem: say });
    const cluster = new Hosts(slot, options);
    live.add(cluster);
    if (cluster.handlesSignals) listenForSignals();
    try {
      await startReaper(slot.names.slot);
      await cluster.#setUp(n, tars);
    } catch (err) {
      await cluster.dispose().catch((e) => say(`teardown after a failed start: ${e}`));
      throw err;
    }
    return cluster;
  }

  /** Names, subnet and directory of this harness's slot. */
  get names(): SlotNames {
    return this.slot.names;
  }

  /** The bridge every host's veth is on. */
  get bridge(): string {
    return this.names.bridge;
  }

  /** The hosts' subnet, e.g. `10.231.0.0/24`. */
  get subnet(): string {
    return `${this.names.net}.0/24`;
  }

  /** This machine's address on the bridge (the root namespace's). */
  get bridgeAddress(): string {
    return `${this.names.net}.254`;
  }

  /**
   * With `privateMounts`, the directory each host sees as its own empty tmpfs (in the root
   * namespace it stays an empty directory).
   */
  get hostPaths(): string {
    return `${this.dir}/hostpaths`;
  }

  /** The directory holding every host's files: one `nI/` a host. */
  get dir(): string {
    return this.names.dir;
  }

  get handlesSignals(): boolean {
    return this.options.handleSignals ?? true;
  }

  async #setUp(n: number, tars: string[]): Promise<void> {
    const { bridge, net, rule, dir } = this.names;
    await Deno.mkdir(dir, { recursive: true });
    if (this.options.privateMounts) await Deno.mkdir(this.hostPaths, { recursive: true });
    await must(["ip", "link", "add", bridge, "type", "bridge", "mcast_snooping", "0"]);
    await must(["ip", "addr", "add", `${net}.254/24`, "dev", bridge]);
    await must(["ip", "link", "set", bridge, "up"]);
    // The root dockerd sets FORWARD's policy to DROP, and bridged traffic passes through it.
    await must([
      "iptables",
      "-w",
      "-I",
      "FORWARD",
      "1",
      "-i",
      bridge,
      "-o",
      bridge,
      "-m",
      "comment",
      "--comment",
      rule,
      "-j",
      "ACCEPT",
    ]);
    for (let i = 1; i <= n; i++) {
      const host = new Host(this, i);
      this.hosts.push(host);
      await host.plumb();
    }
    const delayMs = this.options.delayMs;
    if (delayMs) await Promise.all(this.hosts.map((h) => h.delayInbound(delayMs)));
    const engines = this.hosts.filter((h) => h.ownsDocker);
    await Promise.all(engines.map((h) => h.startDocker()));
    await Promise.all(engines.map((h) => Promise.all(tars.map((t) => h.loadImage(t)))));
    if (this.options.startAgents ?? true) await Promise.all(this.hosts.map((h) => h.start()));
  }

  /** Removes everything; safe to call twice. Throws when something could not be removed. */
  dispose(): Promise<void> {
    return this.#disposed ??= this.#tearDown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  async #tearDown(): Promise<void> {
    // Hosts on another's engine first: their agents must not watch it go away under them.
    const problems = [
      ...(await Promise.all(this.hosts.filter((h) => !h.ownsDocker).map((h) => h.shutDown()))),
      ...(await Promise.all(this.hosts.filter((h) => h.ownsDocker).map((h) => h.shutDown()))),
    ].flat();
    // Whatever the orderly steps missed (or a failed step left) goes here.
    const left = await sweepSlot(this.names.slot).catch((e) => [`sweep failed: ${e}`]);
    live.delete(this);
    stopListeningForSignals();
    this.slot.release();
    for (const p of problems) console.error(`hosts: teardown: ${p}`);
    if (left.length) {
      throw new Error(`hosts slot ${this.names.slot}: teardown left ${left.join("; ")}`);
    }
  }
}

/** One host: a namespace with its own dockerd and agent. */
export class Host {
  /** The agent's output lines (stdout and stderr), the latest {@link KEEP_LINES}. */
  readonly output: string[] = [];
  #child: Deno.ChildProcess | undefined;
  #status: Deno.CommandStatus | undefined;
  #ended: Promise<Deno.CommandStatus> | undefined;
  #pump: Promise<void> = Promise.resolve();
  #flags: string[] = [];
  #dockerd: Deno.ChildProcess | undefined;
  #dockerdEnded: Promise<Deno.CommandStatus> | undefined;
  #relay: Deno.ChildProcess | undefined;
  #relayEnded: Promise<Deno.CommandStatus> | undefined;

  constructor(readonly cluster: Hosts, readonly index: number) {}

  /** `node1`, `node2`…: the agent's `--name`. */
  get name(): string {
    return `node${this.index}`;
  }

  /** The network namespace, `/run/netns/NAME`. */
  get netns(): string {
    return `${this.cluster.names.nsPrefix}${this.index}`;
  }

  /** The host's address on the bridge: its `--advertise-addr`. */
  get address(): string {
    return `${this.cluster.names.net}.${this.index}`;
  }

  /** The root-side end of the host's veth (the other end is `eth0` in the namespace). */
  get veth(): string {
    return `${this.cluster.names.vethPrefix}${this.index}`;
  }

  /** Everything of this host on disk. */
  get dir(): string {
    return `${this.cluster.dir}/n${this.index}`;
  }

  /** The agent's `--data-dir`. */
  get dataDir(): string {
    return `${this.dir}/data`;
  }

  /** The admin token file, for `fossora --data-dir` or `--api-token "$(cat …)"`. */
  get tokenFile(): string {
    return `${this.dataDir}/admin-token`;
  }

  /** The admin token. */
  get token(): string {
    return Deno.readTextFileSync(this.tokenFile).trim();
  }

  /** The agent's node id. */
  get nodeId(): string {
    return Deno.readTextFileSync(`${this.dataDir}/node-id`).trim();
  }

  /** The agent's output, all of it. */
  get logFile(): string {
    return `${this.dir}/agent.log`;
  }

  /** The host whose dockerd this one uses: itself unless the harness's `dockerOf` says other. */
  get engine(): Host {
    const i = this.cluster.options.dockerOf?.(this.index) ?? this.index;
    return i === this.index ? this : this.cluster.hosts[i - 1];
  }

  /** True when this host runs a dockerd of its own. */
  get ownsDocker(): boolean {
    return this.engine === this;
  }

  /** The socket of the dockerd this host uses (its engine's). */
  get dockerSocket(): string {
    return `${this.engine.dir}/docker.sock`;
  }

  /** `unix://…`: the agent's `--docker-host`, and `docker -H`. */
  get dockerHost(): string {
    return `unix://${this.dockerSocket}`;
  }

  /** The API, reachable from this process over the bridge and from every host. */
  get api(): string {
    return `http://${this.address}:${this.apiPort}`;
  }

  get apiPort(): number {
    return this.#portFlag("api-port", 7440);
  }

  /** The agent's `--etcd-peer-port`. */
  get etcdPeerPort(): number {
    return this.#portFlag("etcd-peer-port", 2380);
  }

  /** The agent's `--etcd-client-port`. */
  get etcdClientPort(): number {
    return this.#portFlag("etcd-client-port", 2379);
  }

  /** A port flag's value in the agent's arguments, the last one given. */
  #portFlag(name: string, fallback: number): number {
    const args = this.args(this.#flags);
    let port = fallback;
    for (let i = 0; i < args.length; i++) {
      if (args[i].startsWith(`--${name}=`)) port = Number(args[i].slice(name.length + 3));
      else if (args[i] === `--${name}`) port = Number(args[i + 1]);
    }
    return port;
  }

  /** The agent process's pid while it runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** This host's dockerd's pid while it runs. */
  get dockerdPid(): number | undefined {
    return this.#dockerd?.pid;
  }

  /** True while the agent process runs. */
  get running(): boolean {
    return this.#child !== undefined && this.#status === undefined;
  }

  /** How the agent's last process ended, if it did. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /** Resolves when the current agent process ends. */
  get ended(): Promise<Deno.CommandStatus> {
    return this.#ended ?? Promise.reject(new Error(`${this.name}: the agent was never started`));
  }

  /** The arguments of `fossora agent`: the harness's, then the cluster's, then `extra`. */
  args(extra: string[] = this.#flags): string[] {
    const own = [
      `--data-dir=${this.dataDir}`,
      `--name=${this.name}`,
      `--advertise-addr=${this.address}`,
      `--docker-host=${this.dockerHost}`,
      "--discovery=none",
      // An empty config file: the machine's /etc/fossora/fossora.toml is not this host's.
      `--config=${this.dir}/agent.toml`,
    ];
    const flags = this.cluster.options.agentFlags;
    const added = [...(typeof flags === "function" ? flags(this) : flags ?? []), ...extra];
    const named = new Set(added.filter((w) => w.startsWith("--")).map(flagName));
    return ["agent", ...own.filter((f) => !named.has(flagName(f))), ...added];
  }

  /** Makes the namespace and its veth on the bridge, with its address and routes. */
  async plumb(): Promise<void> {
    const { bridge } = this.cluster.names;
    const ns = this.netns;
    await Deno.mkdir(this.dir, { recursive: true });
    await must(["ip", "netns", "add", ns]);
    await must([
      "ip",
      "link",
      "add",
      this.veth,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      ns,
    ]);
    await must(["ip", "link", "set", this.veth, "master", bridge, "up"]);
    await must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await must(["ip", "-n", ns, "addr", "add", `${this.address}/24`, "dev", "eth0"]);
    await must(["ip", "-n", ns, "link", "set", "eth0", "up"]);
    // No default route (hosts reach only each other); multicast (mDNS) needs a route too.
    await must(["ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"]);
  }

  /**
   * Delays traffic that comes into this host for its etcd and API ports by `delayMs` each way:
   * a relay in the namespace, and a REDIRECT of those ports on `eth0` to it.
   */
  async delayInbound(delayMs: number): Promise<void> {
    if (this.#relay) return;
    const ports = [...new Set([this.etcdPeerPort, this.etcdClientPort, this.apiPort])];
    const maps = ports.map((port, i) => ({ port, relay: RELAY_PORT_BASE + i }));
    const udpRelay = RELAY_PORT_BASE + ports.length;
    const log = `${this.dir}/relay.log`;
    const cmd = [
      ...this.#inNetns(),
      DENO,
      "run",
      "-A",
      RELAY,
      "--delay",
      String(delayMs),
      ...maps.flatMap((m) => ["--map", `${m.relay}=127.0.0.1:${m.port}`]),
      // The nodes' heartbeats: UDP on the API's port number.
      "--udp-map",
      `${udpRelay}=127.0.0.1:${this.apiPort}`,
    ];
    this.#relay = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" >>"$0" 2>&1', log, ...cmd],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    this.#relayEnded = this.#relay.status.then((s) => (exited = true, s));
    await waitFor(`${this.name}'s delay relay to listen`, async () => {
      const text = await Deno.readTextFile(log).catch(() => "");
      if (exited) throw new GiveUp(`${this.name}'s delay relay exited:\n${text}`);
      return /^ready$/m.test(text);
    }, 30_000);
    const rules = [
      ...maps.map((m) => ({ ...m, proto: "tcp" })),
      { port: this.apiPort, relay: udpRelay, proto: "udp" },
    ];
    for (const m of rules) {
      await must([
        ...this.#inNetns().slice(1),
        "iptables",
        "-w",
        "-t",
        "nat",
        "-I",
        "PREROUTING",
        "1",
        "-i",
        "eth0",
        "-p",
        m.proto,
        "--dport",
        String(m.port),
        "-j",
        "REDIRECT",
        "--to-ports",
        String(m.relay),
      ]);
    }
  }

  /** Stops the delay relay, if there is one. */
  async #stopRelay(): Promise<void> {
    const child = this.#relay;
    if (!child || !this.#relayEnded) return;
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    if (!(await settlesWithin(this.#relayEnded, 5000))) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await this.#relayEnded;
    }
    this.#relay = undefined;
  }

  /** Starts this host's dockerd in its namespace and waits until it answers. */
  async startDocker(): Promise<void> {
    if (this.#dockerd) return;
    if (!this.ownsDocker) {
      throw new Error(`${this.name} uses ${this.engine.name}'s dockerd and has none of its own`);
    }
    const { cgroup } = this.cluster.names;
    await Deno.writeTextFile(`${this.dir}/daemon.json`, "{}");
    const log = `${this.dir}/dockerd.log`;
    const cmd = [
      ...this.#inNetns(),
      "dockerd",
      `--data-root=${this.dir}/docker`,
      `--exec-root=${this.dir}/run`,
      `--pidfile=${this.dir}/dockerd.pid`,
      `--host=${this.dockerHost}`,
      // Not /etc/docker/daemon.json: that is the machine's dockerd's.
      `--config-file=${this.dir}/daemon.json`,
      `--cgroup-parent=/${cgroup}n${this.index}`,
      `--containerd-namespace=${this.netns}`,
      `--containerd-plugins-namespace=${this.netns}p`,
      "--log-level=warn",
    ];
    if (this.cluster.options.privateMounts) {
      // unshare and the inner shell exec too: the pid stays dockerd's, and its namespace is the
      // host's (the agent enters it by that pid).
      const dockerd = cmd.splice(this.#inNetns().length);
      cmd.push(
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount -t tmpfs -o size=16m,mode=0755 fossora-hostpaths "$0" && exec "$@"',
        this.cluster.hostPaths,
        ...dockerd,
      );
    }
    // The shell only redirects and execs: the child's pid is dockerd's.
    this.#dockerd = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" >>"$0" 2>&1', log, ...cmd],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    this.#dockerdEnded = this.#dockerd.status.then((s) => (exited = true, s));
    await waitFor(
      `${this.name}'s dockerd to answer`,
      async () => {
        if (exited) {
          const tail = (await Deno.readTextFile(log).catch(() => "")).split("\n").slice(-15);
          throw new GiveUp(`${this.name}'s dockerd exited:\n${tail.join("\n")}`);
        }
        return await dockerPing(this.dockerSocket);
      },
      60_000,
      100,
    );
  }

  /** Stops this host's dockerd (its containers should be gone first: see `removeContainers`). */
  async stopDocker(timeoutMs = 20_000): Promise<void> {
    const child = this.#dockerd;
    if (!child || !this.#dockerdEnded) return;
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    if (!(await settlesWithin(this.#dockerdEnded, timeoutMs))) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await this.#dockerdEnded;
    }
    this.#dockerd = undefined;
  }

  /** Loads an image tarball (`docker save`) into this host's dockerd. */
  async loadImage(tar: string): Promise<void> {
    await must(["docker", "-H", this.dockerHost, "load", "--quiet", "--input", tar]);
  }

  /** Removes every container (and anonymous volume) on this host's dockerd. */
  async removeContainers(): Promise<void> {
    const ids = (await must(["docker", "-H", this.dockerHost, "ps", "-aq"])).split("\n")
      .filter(Boolean);
    if (ids.length) await must(["docker", "-H", this.dockerHost, "rm", "-f", "-v", ...ids]);
  }

  /** Runs `docker -H` this host's dockerd. */
  docker(...args: string[]): Promise<RunResult> {
    return run(["docker", "-H", this.dockerHost, ...args]);
  }

  /** Runs a command inside this host's network namespace, e.g. `["curl", "-sf", url]`. */
  exec(cmd: string[], options: RunOptions = {}): Promise<RunResult> {
    return run(["nsenter", `--net=/run/netns/${this.netns}`, "--", ...cmd], options);
  }

  /**
   * Starts the agent and waits until it is ready. `flags` are added to the cluster's and kept
   * for {@link restart}; without them the last ones are used.
   */
  async start(flags?: string[], timeoutMs = 90_000): Promise<void> {
    await this.spawn(flags);
    await this.waitReady(timeoutMs);
  }

  /** Starts the agent without waiting for anything. */
  async spawn(flags?: string[]): Promise<void> {
    if (this.running) throw new Error(`${this.name}: the agent runs already; stop() it first`);
    if (flags) this.#flags = flags;
    await Deno.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${this.dir}/agent.toml`, "");
    const log = await Deno.open(this.logFile, { create: true, append: true });
    const options = this.cluster.options;
    const child = new Deno.Command("setsid", {
      args: [...this.#inHost().slice(1), DENO, "run", "-A", MAIN, ...this.args()],
      env: {
        FOSSORA_LOG_LEVEL: options.logLevel ?? "info",
        DENO_V8_FLAGS: AGENT_V8_FLAGS,
        DENO_NO_UPDATE_CHECK: "1",
        ...options.env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#status = undefined;
    this.#ended = child.status.then((s) => this.#status = s);
    this.#pump = Promise.all([this.#collect(child.stdout, log), this.#collect(child.stderr, log)])
      .then(() => {}, () => {}).finally(() => log.close());
  }

  async #collect(stream: ReadableStream<Uint8Array>, log: Deno.FsFile): Promise<void> {
    let rest = "";
    const verbose = Deno.env.get("FOSSORA_TEST_VERBOSE");
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      await writeAll(log, chunk).catch(() => {});
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop() ?? "";
      this.output.push(...parts);
      if (this.output.length > KEEP_LINES) this.output.splice(0, this.output.length - KEEP_LINES);
      if (verbose) parts.forEach((l) => console.error(`${this.name}: ${l}`));
    }
    if (rest) this.output.push(rest);
  }

  /** Waits until `GET /api/v1/health` answers 200 from this process; fails when the agent exits. */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    await waitFor(
      `${this.name}'s agent to be ready at ${this.api}`,
      async () => {
        if (!this.#child) throw new GiveUp(`${this.name}: the agent is not started`);
        if (this.#status) {
          throw new GiveUp(
            `${this.name}'s agent exited (code ${this.#status.code}):\n` +
              this.output.slice(-30).join("\n"),
          );
        }
        const res = await fetch(`${this.api}/api/v1/health`, { signal: AbortSignal.timeout(3000) });
        await res.body?.cancel();
        return res.ok;
      },
      timeoutMs,
      200,
    );
  }

  /** Waits for an output line matching `re` and returns it. */
  async waitForLine(re: RegExp, timeoutMs = 30_000): Promise<string> {
    return await waitFor(
      `a line of ${this.name} matching ${re}`,
      () => {
        return this.output.find((l) => re.test(l)) ?? false;
      },
      timeoutMs,
      100,
    );
  }

  /**
   * Sends `signal` to the agent and waits for it to end (SIGKILL after `timeoutMs`); returns its
   * status. After SIGKILL its etcd keeps running, as after a crash: {@link kill} stops both.
   */
  async stop(
    signal: Deno.Signal = "SIGTERM",
    timeoutMs = 20_000,
  ): Promise<Deno.CommandStatus | undefined> {
    const child = this.#child;
    if (!child || !this.#ended) return undefined;
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    if (!(await settlesWithin(this.#ended, timeoutMs))) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    const status = await this.#ended;
    await this.#pump;
    this.#child = undefined;
    return status;
  }

  /** SIGKILLs the agent and its etcd, as when the machine loses power; containers keep running. */
  async kill(): Promise<void> {
    const etcd = await this.#etcdPid();
    await this.stop("SIGKILL");
    await this.#killEtcd(etcd);
  }

  /** Stops the agent (SIGTERM) and starts it again with the same flags and data. */
  async restart(timeoutMs?: number): Promise<void> {
    await this.stop();
    await this.start(undefined, timeoutMs);
  }

  /**
   * Kills the agent and its etcd and empties the data dir, as a reinstall of the machine would;
   * start it again with {@link start}. Containers on the host's dockerd stay.
   */
  async wipe(): Promise<void> {
    await this.kill();
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
    await Deno.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
  }

  /** Calls the API with the admin token, from this process. */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return apiFetch(this.api, this.token, path, init);
  }

  /** Calls the API and parses the JSON answer, failing on an HTTP error. */
  json<T = unknown>(path: string, init: RequestInit = {}): Promise<T> {
    return apiJson<T>(this.api, this.token, path, init, `${this.name} `);
  }

  /** Runs the `fossora` CLI against this host's API, from this process. */
  cli(...args: string[]): Promise<RunResult> {
    return run([DENO, "run", "-A", MAIN, ...args], {
      env: { FOSSORA_API: this.api, FOSSORA_DATA_DIR: this.dataDir },
    });
  }

  /** Starts `fossora ARGS` against this node without waiting (`logs -f`); kill it when done. */
  cliSpawn(...args: string[]): Deno.ChildProcess {
    return new Deno.Command(DENO, {
      args: ["run", "-A", MAIN, ...args],
      env: { FOSSORA_API: this.api, FOSSORA_DATA_DIR: this.dataDir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  /**
   * Stops the agent, its etcd, its containers, dockerd and the delay relay, in that order, each step going on when
   * another failed; returns what went wrong. For {@link Hosts.dispose}.
   */
  async shutDown(): Promise<string[]> {
    const problems: string[] = [];
    const step = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (err) {
        problems.push(`${this.name}: ${what}: ${err instanceof Error ? err.message : err}`);
      }
    };
    const etcd = await this.#etcdPid();
    await step("stopping the agent", () => this.stop("SIGTERM", 15_000));
    await step("stopping its etcd", () => this.#killEtcd(etcd));
    if (this.#dockerd) await step("removing containers", () => this.removeContainers());
    await step("stopping dockerd", () => this.stopDocker());
    // Last: other hosts' agents and members may still be talking to this one while they stop.
    await step("stopping the delay relay", () => this.#stopRelay());
    return problems;
  }

  /**
   * Runs a command in this host's mount namespace (`privateMounts`), e.g. to make a directory
   * or bind a device under {@link Hosts.hostPaths} that only this host has.
   */
  inMounts(cmd: string[], options: RunOptions = {}): Promise<RunResult> {
    return run(["nsenter", this.#mountNs(), "--", ...cmd], options);
  }

  /** `--mount=/proc/PID/ns/mnt` of this host's dockerd, whose namespace is the host's. */
  #mountNs(): string {
    const pid = this.engine.dockerdPid;
    if (!this.cluster.options.privateMounts || pid === undefined) {
      throw new Error(`${this.name} has no mount namespace of its own: use privateMounts`);
    }
    return `--mount=/proc/${pid}/ns/mnt`;
  }

  /** {@link #inNetns}, and in the host's mount namespace when it has one of its own. */
  #inHost(): string[] {
    const net = this.#inNetns();
    if (!this.cluster.options.privateMounts) return net;
    // Entering a mount namespace moves to its root: keep the directory deno.json is found from.
    return [...net.slice(0, -1), this.#mountNs(), `--wd=${Deno.cwd()}`, "--"];
  }

  /** `setsid nsenter --net=… --`: its own session (a Ctrl-C reaches only us), in the namespace. */
  #inNetns(): string[] {
    return ["setsid", "nsenter", `--net=/run/netns/${this.netns}`, "--"];
  }

  async #etcdPid(): Promise<number | undefined> {
    const pid = Number(await Deno.readTextFile(`${this.dataDir}/etcd.pid`).catch(() => ""));
    if (!pid) return undefined;
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    return cmdline.includes(this.dataDir) ? pid : undefined;
  }

  /** An etcd whose agent was killed runs on; nothing else would stop it. */
  async #killEtcd(pid: number | undefined): Promise<void> {
    if (!pid) return;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
    await waitFor(
      `${this.name}'s etcd (${pid}) to exit`,
      async () => !(await alive(pid)),
      10_000,
      20,
    );
  }
}

/**
 * Fails unless every host's engine (`dockerOf`) is a host of the harness that runs its own, and
 * there are at most {@link MAX_DOCKERDS} of them.
 */
export function checkEngines(n: number, dockerOf?: (index: number) => number): void {
  let engines = 0;
  for (let i = 1; i <= n; i++) {
    const e = dockerOf?.(i) ?? i;
    if (!Number.isInteger(e) || e < 1 || e > n || (dockerOf?.(e) ?? e) !== e) {
      throw new RangeError(
        `Hosts.create: dockerOf(${i}) is ${e}; give a host from 1 to ${n} that uses its own ` +
          "dockerd (dockerOf(e) === e)",
      );
    }
    if (e === i) engines++;
  }
  if (engines > MAX_DOCKERDS) {
    throw new RangeError(
      `Hosts.create: ${engines} dockerds are more than this machine runs (${MAX_DOCKERDS}); ` +
        "let hosts share one with dockerOf",
    );
  }
}

/** `--data-dir=x` and `--data-dir` both name `data-dir`. */
function flagName(word: string): string {
  return word.replace(/^--/, "").split("=")[0];
}

async function writeAll(
  to: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await to.write(bytes.subarray(off));
}

/** True when `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Docker's `GET /_ping` over its unix socket: true when the engine answers OK. */
async function dockerPing(socket: string): Promise<boolean> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await writeAll(conn, new TextEncoder().encode("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"));
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return /^HTTP\/1\.[01] 200/.test(text) && text.endsWith("OK");
  } finally {
    conn.close();
  }
}

/**
 * A `docker save` of `image` from this machine's dockerd, made once per image id and shared by
 * every harness: loading it is much faster than saving it again for each host.
 */
async function imageTar(image: string): Promise<string> {
  const inspect = await run(["docker", "image", "inspect", "--format", "{{.Id}}", image]);
  if (inspect.code !== 0) {
    throw new Error(
      `image ${image} is not in this machine's dockerd: scripts/test builds the test images ` +
        "(scripts/lib.sh), or pass one that is there",
    );
  }
  const id = inspect.stdout.trim().replace(/^sha256:/, "").slice(0, 16);
  const base = image.replace(/[^a-zA-Z0-9_.-]/g, "_");
  const dir = `${HOSTS_ROOT}/images`;
  const path = `${dir}/${base}-${id}.tar`;
  if (await Deno.stat(path).then(() => true, () => false)) return path;
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
  try {
    await must(["docker", "save", "--output", tmp, image]);
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  // Saves of older builds of the same image are of no more use.
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(`${base}-`) && e.name.endsWith(".tar") && `${dir}/${e.name}` !== path) {
      await Deno.remove(`${dir}/${e.name}`).catch(() => {});
    }
  }
  return path;
}

/** Harnesses of this isolate that have not been disposed yet. */
const live = new Set<Hosts>();
let listening = false;
const onSigint = () => void removeAllAndExit("SIGINT");
const onSigterm = () => void removeAllAndExit("SIGTERM");

function listenForSignals(): void {
  if (listening) return;
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);
  listening = true;
}

function stopListeningForSignals(): void {
  if (!listening || [...live].some((h) => h.handlesSignals)) return;
  Deno.removeSignalListener("SIGINT", onSigint);
  Deno.removeSignalListener("SIGTERM", onSigterm);
  listening = false;
}

/** A listener replaces the default action of the signal: so remove everything, then exit. */
async function removeAllAndExit(signal: "SIGINT" | "SIGTERM"): Promise<void> {
  const mine = [...live].filter((h) => h.handlesSignals);
  console.error(`hosts: ${signal}: removing ${mine.length} one-machine cluster(s)`);
  const results = await Promise.allSettled(mine.map((h) => h.dispose()));
  for (const r of results) if (r.status === "rejected") console.error(`hosts: ${r.reason}`);
  Deno.exit(signal === "SIGINT" ? 130 : 143);
}
