/**
 * `deno task bench`: measures the agent's proxy, DNS and memory on this machine, each against a
 * reference (nginx, dnsmasq) measured in the same run against the same backend, and prints the
 * ratios with PASS/MISS per goal of issue 6; then the cluster figures of issue 7 (joins, the
 * largest cluster and its idle cost, join.ts and scale.ts), each against bare etcd (or a minimal
 * Deno process) measured in the same run on the same hosts. It measures and never gates: it
 * exits 0 whether goals are met or missed, and non-zero only when it could not measure. Progress
 * goes to stderr; `--json` puts the figures on stdout as JSON instead of the readable report.
 * Run it on a quiet machine: other test runs make every figure noisy (the report says when it
 * saw some).
 *
 * Flags: `--json`; `--duration=SECONDS` (the 64-connection and DNS runs; the others are shorter;
 * default 10); `--runs=N` (the load runs, each figure's best and worst ratio; default 1);
 * `--soak=SECONDS` (then a soak of mixed traffic, RssAnon sampled over time; default none);
 * `--only=PART[,PART]` (of proxy, join, scale, failover, mesh, ui; default all; mesh: the stack
 * mesh's paths against a direct container-to-container connection, bench/mesh.ts; ui: the web
 * UI's first page and overview, bench/ui.ts); `--trials=N` (joins one
 * at a time, default 5); `--nodes=N` (the largest cluster tried, default 50: the goal);
 * `--kills=N` (node deaths per failover run, default 10: the issue's); `--watch=SECONDS` (the
 * delayed cluster watched for false alarms, default 600).
 * @module
 */
import { docker, TestAgent } from "../test/helpers/agent.ts";
import { httpRequest } from "../test/helpers/http.ts";
import { waitFor } from "../test/helpers/wait.ts";
import { BENCH_SERVICE, deployCluster, nodeAddress, SERVICES, WS_SERVICE } from "./cluster.ts";
import { type ClusterFigures, clusterVerdicts, formatClusterReport } from "./cluster_report.ts";
import { childPids, cpuSeconds, measureCpu, perTenThousand } from "./cpu.ts";
import {
  expectA,
  FORWARD_ADDRESS,
  FORWARD_ZONE,
  forwardQueryFileText,
  measureDns,
  queryFileText,
  startDnsmasq,
  startForwardingPair,
} from "./dns.ts";
import { resetChildren, run, runOk, stopChildren } from "./exec.ts";
import {
  BENCH_BODY,
  BENCH_IMAGE,
  BIG_BYTES,
  BIG_PATH,
  bigFile,
  ECHO_PORT,
  ensureBenchImage,
  ensureTestImages,
  UPLOAD_PATH,
} from "./images.ts";
import { checkHttps, expectBody, runWrk, startNginxProxy, type TlsSession } from "./proxy.ts";
import {
  comparisons,
  type Figures,
  formatReport,
  type RunFigures,
  type Settings,
  type Soak,
  spreads,
  verdicts,
} from "./report.ts";
import { PeakSampler, readRss, readRssAnon, settledRss } from "./rss.ts";
import { soak } from "./soak.ts";
import { parseDockerPort } from "./tools.ts";
import { BATCH, IDLE_WINDOW_S, measureScale } from "./scale.ts";
import { joinHosts, measureJoins } from "./join.ts";
import { measureFailover } from "./failover.ts";
import { measureDownloads, measureUploads } from "./transfer.ts";
import { measureWebSocket } from "./websocket.ts";
import { formatMeshReport, measureMesh, type MeshFigures } from "./mesh.ts";
import { formatUiReport, measureUi, type UiFigures } from "./ui.ts";

const CONNECTIONS = 64;
const DOWNLOADS = 8;
const WS_CONNECTIONS = 16;
const DNS_CLIENTS = 4;
const WARMUP_S = 2;
const TOOLS = [
  "wrk",
  "curl",
  "dnsperf",
  "nginx",
  "dnsmasq",
  "dig",
  "docker",
  "ldd",
  "tar",
  "etcd",
  "getconf",
  "bash",
];

/** The benchmarks `--only` picks from. */
export const PARTS = ["proxy", "join", "scale", "failover", "mesh", "ui"] as const;
/** One of {@link PARTS}. */
export type Part = typeof PARTS[number];

/** The command line. */
export interface Options {
  json: boolean;
  durationS: number;
  runs: number;
  /** Seconds of soak after the runs; 0 for none. */
  soakS: number;
  /** The benchmarks to run, in {@link PARTS}' order. */
  parts: Part[];
  /** Joins one node at a time. */
  trials: number;
  /** Nodes the largest-cluster benchmark grows to (it stops early if they do not converge). */
  nodes: number;
  /** Node deaths per failover run. */
  kills: number;
  /** Seconds the delayed cluster is watched for false alarms. */
  watchS: number;
}

/** Delay the failover benchmark adds each way between nodes (issue 8: 100 ms). */
export const FAILOVER_DELAY_MS = 100;

function wholeFlag(a: string, name: string, min: number, max: number): number {
  const n = Number(a.slice(name.length + 3));
  if (!/^\d+$/.test(a.slice(name.length + 3)) || n < min || n > max) {
    throw new Error(`--${name} must be a whole number, ${min}..${max}; got "${a}"`);
  }
  return n;
}

/** Reads the command line; unknown flags are an error that lists the known ones. */
export function parseArgs(args: string[]): Options {
  const o: Options = {
    json: false,
    durationS: 10,
    runs: 1,
    soakS: 0,
    parts: [...PARTS],
    trials: 5,
    nodes: 50,
    kills: 10,
    watchS: 600,
  };
  for (const a of args) {
    if (a === "--json") o.json = true;
    else if (a.startsWith("--duration=")) o.durationS = wholeFlag(a, "duration", 1, 30);
    else if (a.startsWith("--runs=")) o.runs = wholeFlag(a, "runs", 1, 10);
    else if (a.startsWith("--soak=")) o.soakS = wholeFlag(a, "soak", 10, 7200);
    else if (a.startsWith("--trials=")) o.trials = wholeFlag(a, "trials", 1, 20);
    else if (a.startsWith("--nodes=")) o.nodes = wholeFlag(a, "nodes", 2, 253);
    else if (a.startsWith("--kills=")) o.kills = wholeFlag(a, "kills", 1, 50);
    else if (a.startsWith("--watch=")) o.watchS = wholeFlag(a, "watch", 0, 7200);
    else if (a.startsWith("--only=")) {
      const named = a.slice("--only=".length).split(",");
      const bad = named.filter((p) => !(PARTS as readonly string[]).includes(p));
      if (bad.length || named.length === 0) {
        throw new Error(
          `--only takes one or more of ${PARTS.join(", ")}, comma-separated; got "${a}"`,
        );
      }
      o.parts = PARTS.filter((p) => named.includes(p));
    } else {
      throw new Error(
        `unknown argument "${a}"; use --json, --duration=SECONDS, --runs=N, --soak=SECONDS, ` +
          "--only=PART[,PART], --trials=N, --nodes=N, --kills=N, --watch=SECONDS",
      );
    }
  }
  return o;
}

/** The shape of every load, from the options, and the address replicas are reached at. */
export function settingsOf(o: Options, address = "127.0.0.1"): Settings {
  return {
    address,
    runs: o.runs,
    durationS: o.durationS,
    connections: CONNECTIONS,
    latencyS: Math.max(2, Math.ceil(o.durationS / 2)),
    downloads: DOWNLOADS,
    fileBytes: BIG_BYTES,
    wsConnections: WS_CONNECTIONS,
    wsSeconds: Math.max(2, Math.ceil(o.durationS / 2)),
    dnsClients: DNS_CLIENTS,
    services: SERVICES,
  };
}

/** Seconds of bulk transfers measured per proxy and figure (rounds repeat until then). */
function transferSeconds(o: Options): number {
  return Math.max(1, Math.ceil(o.durationS / 4));
}

/** Seconds a harness may wait for a free hosts slot while other test runs hold them. */
const SLOT_WAIT_S = 600;

/**
 * The whole bench must end by then, cleaned up, whatever hangs: generous room for start-up and
 * each run's loads (they take about two thirds of it), plus the soak; for the cluster parts,
 * each join's and batch's own time limit, the waits for the cluster to settle, and a wait for a
 * free hosts slot.
 */
export function budgetMs(o: Options): number {
  const s = settingsOf(o);
  const perRun = 6 * (s.durationS + WARMUP_S) + 2 * (s.latencyS + 1) +
    4 * (2 * transferSeconds(o) + 10) + 2 * (s.wsSeconds + 5) + 2 * (s.durationS + 1) + 30;
  let total = 40;
  if (o.parts.includes("proxy")) total += 150 + o.runs * perRun + (o.soakS ? o.soakS + 90 : 0);
  if (o.parts.includes("join")) {
    total += SLOT_WAIT_S + 60 + joinHosts(o.trials) * 10 + (o.trials + 1) * (60 + 60 + 30) + 60;
  }
  if (o.parts.includes("scale")) {
    total += SLOT_WAIT_S + 60 + o.nodes * 2 + Math.ceil((o.nodes - 1) / BATCH) * 125 + 5 * 30 +
      90 + IDLE_WINDOW_S + 120;
  }
  if (o.parts.includes("ui")) total += 60;
  if (o.parts.includes("mesh")) {
    // A slot, two agents, the stack, then three paths of a load and three transfers each.
    total += SLOT_WAIT_S + 120 + 120 + 3 * (s.durationS + 1 + 60);
  }
  if (o.parts.includes("failover")) {
    // Each of the two clusters: a slot, forming, retuning (the delayed one), and per kill the
    // answer, the reference start and the rejoin at their limits; the roll; then the watch.
    total += 2 * (SLOT_WAIT_S + 120 + 60) + 240 + 2 * o.kills * (60 + 30 + 120 + 120) +
      (60 + 180) + o.watchS;
  }
  return total * 1000;
}

function progress(msg: string): void {
  console.error(`bench: ${msg}`);
}

async function checkTools(): Promise<void> {
  const missing: string[] = [];
  for (const t of TOOLS) {
    if ((await run("sh", ["-c", `command -v ${t}`], 5_000)).code !== 0) missing.push(t);
  }
  if (missing.length) {
    throw new Error(
      `missing ${missing.join(", ")}: run scripts/test once (it installs wrk, nginx-light, ` +
        `dnsperf, dnsmasq-base, etcd-server, docker.io and dnsutils); curl and getconf are ` +
        "Debian's curl and libc-bin",
    );
  }
  if ((await run("docker", ["version"], 10_000)).code !== 0) {
    throw new Error("dockerd is not answering: run scripts/test (or scripts/start) to start it");
  }
}

/** Node id of the bench's agent, to check after the end that its containers are gone. */
let benchNode: string | undefined;

/** What the load runs need to reach. */
interface Targets {
  agentPid: number;
  etcdPid: number;
  agentPort: number;
  nginxPort: number;
  agentHttpsPort: number;
  nginxHttpsPort: number;
  nginxPids: () => Promise<number[]>;
  /** The node's address, where the replicas' ports are published. */
  address: string;
  backendPort: number;
  host: string;
  wsHost: string;
  uploadFile: string;
  dnsmasqPort: number;
  agentDnsPort: number;
  queries: string;
  /** dnsmasq forwarding {@link FORWARD_ZONE} to the upstream the agent forwards to as well. */
  forwardDnsmasqPort: number;
  forwardQueries: string;
}

type Who = "fossora" | "nginx";

/** Runs `f` for both proxies in `order`, so each figure's pair is measured back to back. */
async function pair<T>(order: Who[], f: (who: Who) => Promise<T>): Promise<Record<Who, T>> {
  const out: Partial<Record<Who, T>> = {};
  for (const who of order) out[who] = await f(who);
  return out as Record<Who, T>;
}

async function oneRun(o: Options, t: Targets, i: number): Promise<RunFigures> {
  const s = settingsOf(o, t.address);
  const order: Who[] = i % 2 === 0 ? ["nginx", "fossora"] : ["fossora", "nginx"];
  const port = (who: Who) => who === "fossora" ? t.agentPort : t.nginxPort;
  const httpsPort = (who: Who) => who === "fossora" ? t.agentHttpsPort : t.nginxHttpsPort;
  const pids = (who: Who) => who === "fossora" ? Promise.resolve([t.agentPid]) : t.nginxPids();
  const step = (what: string) => progress(`run ${i + 1}/${o.runs}: ${what}`);
  const sampler = new PeakSampler({ agent: t.agentPid, etcd: t.etcdPid }, 100);
  try {
    const load = { durationS: s.durationS, connections: s.connections };
    step(
      `wrk -c${s.connections}, ${WARMUP_S} s warm-up + ${s.durationS} s, each proxy, then direct`,
    );
    const requests = await pair(order, async (who) => {
      await runWrk(port(who), t.host, { ...load, durationS: WARMUP_S });
      return await measureCpu(() => pids(who), () => runWrk(port(who), t.host, load));
    });
    const direct = await runWrk(t.backendPort, t.host, load, { address: t.address });

    step(`wrk -c${s.connections} over HTTPS, ${WARMUP_S} s warm-up + ${s.durationS} s, each proxy`);
    const https = await pair(order, async (who) => {
      await runWrk(httpsPort(who), t.host, { ...load, durationS: WARMUP_S }, { https: true });
      return await runWrk(httpsPort(who), t.host, load, { https: true });
    });

    step(`wrk -c1, 1 s warm-up + ${s.latencyS} s, each proxy`);
    const latency = await pair(order, async (who) => {
      await runWrk(port(who), t.host, { durationS: 1, connections: 1 });
      return await runWrk(port(who), t.host, { durationS: s.latencyS, connections: 1 });
    });

    const minSeconds = transferSeconds(o);
    step(`${DOWNLOADS} concurrent 50 MB downloads, then 50 MB uploads, >= ${minSeconds} s each`);
    const target = (who: Who, path: string) => ({ port: port(who), host: t.host, path });
    const rounds = (parallel: number, maxRounds: number) => ({ parallel, minSeconds, maxRounds });
    const downloads = await pair(
      order,
      (who) => measureDownloads(target(who, BIG_PATH), BIG_BYTES, rounds(DOWNLOADS, 5)),
    );
    const upload = await pair(
      order,
      (who) => measureUploads(target(who, UPLOAD_PATH), t.uploadFile, BIG_BYTES, rounds(1, 20)),
    );

    step(`WebSockets, ${WS_CONNECTIONS} connections, 1 s warm-up + ${s.wsSeconds} s, each proxy`);
    const websocket = await pair(order, (who) =>
      measureWebSocket({
        port: port(who),
        host: t.wsHost,
        connections: WS_CONNECTIONS,
        seconds: s.wsSeconds,
        warmup: 1,
        size: 64,
        reconnectEvery: 0,
      }));

    const dnsLoad = { durationS: s.durationS, clients: s.dnsClients };
    step(`dnsperf: dnsmasq, fossora (1 s warm-up + ${s.durationS} s each)`);
    const dnsmasq = await measureDns(t.dnsmasqPort, t.queries, dnsLoad, 1);
    const fossoraDns = await measureDns(t.agentDnsPort, t.queries, dnsLoad, 1);
    step(
      `dnsperf, forwarding cached names: dnsmasq, fossora (1 s warm-up + ${s.durationS} s each)`,
    );
    const forwardDnsmasq = await measureDns(t.forwardDnsmasqPort, t.forwardQueries, dnsLoad, 1);
    const forwardFossora = await measureDns(t.agentDnsPort, t.forwardQueries, dnsLoad, 1);

    const { peaks, privatePeaks, samples } = sampler.stop();
    return {
      first: order[0],
      requests: { fossora: requests.fossora.result, nginx: requests.nginx.result, direct },
      https,
      latency,
      downloads,
      upload,
      websocket,
      dns: { fossora: fossoraDns, dnsmasq },
      dnsForward: { fossora: forwardFossora, dnsmasq: forwardDnsmasq },
      cpu: { fossora: requests.fossora.cpu, nginx: requests.nginx.cpu },
      memory: {
        peakRss: peaks.agent ?? 0,
        peakRssAnon: privatePeaks.agent ?? 0,
        etcdPeak: peaks.etcd,
        samples,
      },
    };
  } finally {
    sampler.stop();
  }
}

async function bench(o: Options, stack: AsyncDisposableStack): Promise<Figures> {
  await checkTools();
  progress("building the images (skipped when up to date)");
  await ensureTestImages();
  await ensureBenchImage();

  const address = nodeAddress(Deno.networkInterfaces());
  progress("starting the DNS upstream and the forwarding dnsmasq");
  const forwarding = await own(stack, await startForwardingPair());
  progress(`starting the agent (advertising ${address})`);
  const agent = await own(
    stack,
    await TestAgent.start({
      FOSSORA_LOG_LEVEL: "info",
      FOSSORA_DNS_UPSTREAM: `127.0.0.1:${forwarding.upstreamPort}`,
    }, { advertiseAddr: address }),
  );
  benchNode = agent.nodeId;
  const agentPid = agent.child!.pid;
  const host = `${BENCH_SERVICE}.${agent.domain}`;
  const wsHost = `${WS_SERVICE}.${agent.domain}`;
  progress(`deploying ${SERVICES} services (the two backends and idle busybox ones)`);
  const deployed = await deployCluster(agent);
  const backendPort = parseDockerPort(await docker("port", deployed.bench, "80"));
  const wsPort = parseDockerPort(await docker("port", deployed.ws, String(ECHO_PORT)));
  await expectBackend(address, backendPort);
  await waitFor("the proxy to route both backends", async () => {
    await expectBody(agent.ports.http, host, BENCH_BODY);
    return (await httpRequest(agent.ports.http, wsHost)).status === 200;
  }, 15_000);

  const pki = await proxyCertificate(agent.dataDir);
  const nginx = await own(
    stack,
    await startNginxProxy([
      { host, address, port: backendPort },
      { host: wsHost, address, port: wsPort, websocket: true },
    ], pki),
  );
  await expectBody(nginx.port, host, BENCH_BODY);
  const tls = await checkBothHttps(agent.ports.https, nginx.httpsPort!, host, pki.ca);
  const dnsmasq = await own(stack, await startDnsmasq(host, address));
  await expectA(agent.ports.dns, host, address);

  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  const queries = `${dir}/queries.txt`;
  await Deno.writeTextFile(queries, queryFileText(host));
  const forwardQueries = `${dir}/forward-queries.txt`;
  await Deno.writeTextFile(forwardQueries, forwardQueryFileText(FORWARD_ZONE));
  await expectA(agent.ports.dns, `host1.${FORWARD_ZONE}`, FORWARD_ADDRESS);
  const uploadFile = `${dir}/upload.bin`;
  await Deno.writeFile(uploadFile, bigFile());

  progress("waiting for the agent's memory to settle");
  const etcdPid = Number(await Deno.readTextFile(`${agent.dataDir}/etcd.pid`));
  const idleFrom = { at: Date.now(), cpu: await cpuSeconds([agentPid]) };
  const idleRssAnon = await settledRss(agentPid, { read: readRssAnon });
  const idleRss = (await readRss(agentPid)) ?? 0;
  const etcdIdle = await readRss(etcdPid);
  // CPU is counted in 10 ms ticks: a few idle seconds make a usable rate.
  await new Promise((r) => setTimeout(r, Math.max(0, idleFrom.at + 5000 - Date.now())));
  const idleCpuPerSec = ((await cpuSeconds([agentPid])) - idleFrom.cpu) /
    ((Date.now() - idleFrom.at) / 1000);

  const targets: Targets = {
    agentPid,
    etcdPid,
    agentPort: agent.ports.http,
    nginxPort: nginx.port,
    agentHttpsPort: agent.ports.https,
    nginxHttpsPort: nginx.httpsPort!,
    nginxPids: async () => [nginx.pid, ...await childPids(nginx.pid)],
    address,
    backendPort,
    host,
    wsHost,
    uploadFile,
    dnsmasqPort: dnsmasq.port,
    agentDnsPort: agent.ports.dns,
    queries,
    forwardDnsmasqPort: forwarding.dnsmasqPort,
    forwardQueries,
  };
  const runs: RunFigures[] = [];
  for (let i = 0; i < o.runs; i++) {
    runs.push(await oneRun(o, targets, i));
    if (agent.exited) throw new Error(`the agent exited during run ${i + 1}`);
  }

  progress("waiting for the agent's memory to settle after the load");
  const afterRssAnon = await settledRss(agentPid, { read: readRssAnon });
  const afterRss = (await readRss(agentPid)) ?? 0;

  let soakFigures: Soak | undefined;
  if (o.soakS) {
    progress(`soak: ${o.soakS} s of mixed traffic through the agent's proxy`);
    const sampler = new PeakSampler({ agent: agentPid }, 100);
    const figures = await soak(agentPid, {
      port: agent.ports.http,
      host,
      wsHost,
      bigPath: BIG_PATH,
      uploadPath: UPLOAD_PATH,
      bigBytes: BIG_BYTES,
      uploadFile,
    }, o.soakS).finally(() => sampler.stop());
    if (agent.exited) throw new Error("the agent exited during the soak");
    progress("waiting for the agent's memory to settle after the soak");
    soakFigures = {
      ...figures,
      peakRssAnon: sampler.stop().privatePeaks.agent ?? 0,
      afterRssAnon: await settledRss(agentPid, { read: readRssAnon }),
    };
  }

  const etcdPeaks = runs.map((r) => r.memory.etcdPeak ?? 0);
  return {
    settings: settingsOf(o, address),
    runs,
    idleCpuPerSec,
    tls,
    memory: {
      idleRss,
      idleRssAnon,
      peakRss: Math.max(...runs.map((r) => r.memory.peakRss)),
      peakRssAnon: Math.max(...runs.map((r) => r.memory.peakRssAnon)),
      afterRss,
      afterRssAnon,
      etcdIdle,
      etcdPeak: Math.max(...etcdPeaks) || undefined,
      samples: runs.reduce((n, r) => n + r.memory.samples, 0),
    },
    soak: soakFigures,
  };
}

/**
 * The certificate and key the agent's proxy serves, and the cluster CA, once the agent has
 * written them (a moment after it starts: the certificate is issued once etcd is up).
 */
async function proxyCertificate(
  dataDir: string,
): Promise<{ cert: string; key: string; ca: string }> {
  const pki = `${dataDir}/pki`;
  const files = { cert: `${pki}/proxy.crt`, key: `${pki}/proxy.key`, ca: `${pki}/ca.crt` };
  await waitFor(
    `the agent's certificate in ${pki}`,
    async () => {
      for (const f of Object.values(files)) {
        if (((await Deno.stat(f).catch(() => undefined))?.size ?? 0) === 0) return false;
      }
      return true;
    },
    30_000,
    200,
  );
  return files;
}

/**
 * Checks with curl, trusting only the cluster CA and naming the service, that both proxies serve
 * the bench body over HTTPS with the same valid certificate: a broken certificate fails the bench
 * rather than being measured (wrk checks none). The agent may still be taking its certificate
 * up, so it gets a few seconds; a refused certificate fails at once.
 */
async function checkBothHttps(
  agentPort: number,
  nginxPort: number,
  host: string,
  ca: string,
): Promise<{ fossora: TlsSession; nginx: TlsSession }> {
  const fossora = await waitFor(
    "the agent's proxy to serve HTTPS",
    () => checkHttps(agentPort, host, ca, BENCH_BODY),
    15_000,
    250,
  );
  const nginx = await checkHttps(nginxPort, host, ca, BENCH_BODY);
  if (fossora.certificate !== nginx.certificate) {
    throw new Error(
      `the agent and nginx serve different certificates: ${fossora.certificate} vs ` +
        nginx.certificate,
    );
  }
  return { fossora, nginx };
}

/** Fails unless the backend replica itself serves the 100-byte body at address:port. */
async function expectBackend(address: string, port: number): Promise<void> {
  const res = await fetch(`http://${address}:${port}/`);
  const body = await res.text();
  if (res.status !== 200 || body !== BENCH_BODY) {
    throw new Error(
      `the backend at ${address}:${port} answered ${res.status} ${body.slice(0, 200)}`,
    );
  }
}

/** Adds a resource to the stack; if the bench was already cleaned up (budget, signal), drops it. */
async function own<T extends AsyncDisposable>(stack: AsyncDisposableStack, r: T): Promise<T> {
  if (stack.disposed) {
    await r[Symbol.asyncDispose]();
    throw new Error("stopped while starting");
  }
  return stack.use(r);
}

/**
 * The `--json` document: the figures, each run's comparisons and CPU seconds per 10,000
 * requests, their spread, and the verdicts.
 */
export function jsonReport(f: Figures): unknown {
  const cs = f.runs.map((r) => comparisons(f.settings, r));
  const cpuPerTenThousand = f.runs.map((r) => ({
    fossora: perTenThousand(r.cpu.fossora),
    nginx: perTenThousand(r.cpu.nginx),
  }));
  return {
    figures: f,
    comparisons: cs,
    cpuPerTenThousand,
    spreads: spreads(cs),
    verdicts: verdicts(f),
  };
}

/**
 * Runs the parts `o` asks for, one after another, each with its own resources, released before
 * the next starts so none measures beside another's leftovers.
 */
async function measureAll(
  o: Options,
  stack: AsyncDisposableStack,
): Promise<{ proxy?: Figures; cluster: ClusterFigures; mesh?: MeshFigures; ui?: UiFigures }> {
  const phase = async <T>(f: (s: AsyncDisposableStack) => Promise<T>): Promise<T> => {
    const s = stack.use(new AsyncDisposableStack());
    try {
      return await f(s);
    } finally {
      await s.disposeAsync();
    }
  };
  const out: { proxy?: Figures; cluster: ClusterFigures; mesh?: MeshFigures; ui?: UiFigures } = {
    cluster: {},
  };
  if (o.parts.includes("proxy")) out.proxy = await phase((s) => bench(o, s));
  if (o.parts.includes("join")) {
    out.cluster.joins = await phase((s) => measureJoins(o.trials, s, progress));
  }
  if (o.parts.includes("scale")) {
    out.cluster.scale = await phase((s) => measureScale(o.nodes, s, progress));
  }
  if (o.parts.includes("failover")) {
    const f = { trials: o.kills, delayMs: FAILOVER_DELAY_MS, watchS: o.watchS };
    out.cluster.failover = await phase((s) => measureFailover(f, s, progress));
  }
  if (o.parts.includes("mesh")) out.mesh = await phase(() => measureMesh(o.durationS, progress));
  if (o.parts.includes("ui")) out.ui = await measureUi(progress);
  return out;
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(Deno.args);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  const stack = new AsyncDisposableStack();
  // One disposal shared by the normal end, a failure and a signal, so each waits for it.
  let disposal: Promise<void> | undefined;
  const cleanup = () => {
    if (!disposal) {
      progress("cleaning up");
      // Load tools first: they would otherwise keep hitting servers that are being stopped.
      stopChildren();
      disposal = stack.disposeAsync().catch((e) => progress(`cleanup failed: ${e}`));
    }
    return disposal;
  };
  let stoppedBy: string | undefined;
  const onSignal = (signal: Deno.Signal) => () => {
    stoppedBy ??= signal;
    void cleanup().then(() => Deno.exit(130));
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  const budget = budgetMs(o);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overBudget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`over the ${budget / 1000}s budget`)), budget);
  });
  try {
    const started = Date.now();
    const { proxy, cluster, mesh, ui } = await Promise.race([measureAll(o, stack), overBudget]);
    await cleanup();
    if (o.json) {
      const json = {
        ...(proxy ? jsonReport(proxy) as Record<string, unknown> : {}),
        cluster: { figures: cluster, verdicts: clusterVerdicts(cluster) },
        ...(mesh ? { mesh } : {}),
        ...(ui ? { ui } : {}),
      };
      console.log(JSON.stringify(json, null, 2));
    } else {
      console.log(
        [
          proxy && formatReport(proxy),
          formatClusterReport(cluster),
          mesh && formatMeshReport(mesh),
          ui && formatUiReport(ui),
        ]
          .filter(Boolean)
          .join("\n"),
      );
    }
    progress(`done in ${((Date.now() - started) / 1000).toFixed(0)}s`);
    return 0;
  } catch (err) {
    // A signal kills the load tools first; their failure is not the news.
    if (stoppedBy) console.error(`bench: stopped by ${stoppedBy}`);
    else console.error(`bench: could not measure: ${(err as Error).message}`);
    return 1;
  } finally {
    clearTimeout(timer);
    await cleanup();
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
}

if (import.meta.main) {
  // The agent's disposal removes its containers; say so if any survived.
  const code = await main();
  resetChildren();
  const filter = benchNode ? `label=fossora.node=${benchNode}` : `ancestor=${BENCH_IMAGE}`;
  const left = await runOk("docker", ["ps", "-aq", "--filter", filter]).catch(() => "");
  if (left.trim()) console.error(`bench: warning: containers of the bench still exist (${filter})`);
  Deno.exit(code);
}
