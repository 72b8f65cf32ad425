/**
 * `deno task bench`: one run on this machine that measures the agent's proxy, DNS and memory,
 * each against a reference (nginx, dnsmasq) measured in the same run, and prints the ratios with
 * PASS/MISS per goal. It measures and never gates: it exits 0 whether goals are met or missed,
 * and non-zero only when it could not measure. Progress goes to stderr; `--json` puts the
 * figures on stdout as JSON instead of the readable report.
 *
 * Flags: `--json`, `--duration=SECONDS` (each measured run; default 10).
 * @module
 */
import { docker, TestAgent } from "../test/helpers/agent.ts";
import { waitFor } from "../test/helpers/wait.ts";
import { expectA, measureDns, queryFileText, startDnsmasq } from "./dns.ts";
import { run, runOk } from "./exec.ts";
import { BENCH_BODY, BENCH_IMAGE, ensureBenchImage } from "./images.ts";
import { expectBody, measureProxy, startNginxProxy } from "./proxy.ts";
import { type Figures, formatReport, ratio, verdicts } from "./report.ts";
import { PeakSampler, readRss, readRssAnon, settledRss } from "./rss.ts";
import { parseDockerPort } from "./tools.ts";

const SERVICE = "bench";
const ADDRESS = "127.0.0.1";
const CONNECTIONS = 32;
const DNS_CLIENTS = 4;
const WARMUP_S = 2;
/** The whole bench must end by then, cleaned up, whatever hangs. */
const BUDGET_MS = 180_000;
const TOOLS = ["wrk", "dnsperf", "nginx", "dnsmasq", "dig", "docker", "ldd", "tar", "etcd"];

interface Options {
  json: boolean;
  durationS: number;
}

/** Reads the command line; unknown flags are an error that lists the known ones. */
export function parseArgs(args: string[]): Options {
  const o: Options = { json: false, durationS: 10 };
  for (const a of args) {
    if (a === "--json") o.json = true;
    else if (a.startsWith("--duration=")) {
      o.durationS = Number(a.slice("--duration=".length));
      if (!Number.isInteger(o.durationS) || o.durationS < 1 || o.durationS > 30) {
        throw new Error(`--duration must be a whole number of seconds, 1..30; got "${a}"`);
      }
    } else throw new Error(`unknown argument "${a}"; use --json and/or --duration=SECONDS`);
  }
  return o;
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
        `dnsperf, dnsmasq-base, etcd-server, docker.io and dnsutils)`,
    );
  }
  if ((await run("docker", ["version"], 10_000)).code !== 0) {
    throw new Error("dockerd is not answering: run scripts/test (or scripts/start) to start it");
  }
}

interface Replica {
  ready: boolean;
  containerId?: string;
}

/** Deploys the backend service and returns its ready replica's container id. */
async function deploy(agent: TestAgent): Promise<string> {
  await agent.json("/api/v1/services", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: SERVICE,
      image: BENCH_IMAGE,
      ports: [{ container: 80, http: true }],
    }),
  });
  return await waitFor(
    "a ready replica of the bench service",
    async () => {
      const res = await agent.fetch(`/api/v1/services/${SERVICE}`);
      if (!res.ok) return void await res.body?.cancel();
      const { replicas } = (await res.json()) as { replicas: Replica[] };
      return replicas.find((r) => r.ready && r.containerId)?.containerId;
    },
    60_000,
    200,
  );
}

async function bench(o: Options, stack: AsyncDisposableStack): Promise<Figures> {
  await checkTools();
  progress(`building ${BENCH_IMAGE} (skipped when up to date)`);
  await ensureBenchImage();

  progress("starting the agent");
  const agent = await own(stack, await TestAgent.start({ FOSSORA_LOG_LEVEL: "info" }));
  const agentPid = agent.child!.pid;
  const host = `${SERVICE}.${agent.domain}`;
  progress(`deploying ${SERVICE} (${BENCH_IMAGE})`);
  const containerId = await deploy(agent);
  const backendPort = parseDockerPort(await docker("port", containerId, "80"));
  await expectBody(backendPort, host, BENCH_BODY);
  await waitFor("the proxy to route the service", async () => {
    await expectBody(agent.ports.http, host, BENCH_BODY);
    return true;
  }, 15_000);

  const nginx = await own(stack, await startNginxProxy(backendPort));
  await expectBody(nginx.port, host, BENCH_BODY);
  const dnsmasq = await own(stack, await startDnsmasq(host, ADDRESS));
  await expectA(agent.ports.dns, host, ADDRESS);

  const dir = await Deno.makeTempDir({ prefix: "fossora-bench-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  const queries = `${dir}/queries.txt`;
  await Deno.writeTextFile(queries, queryFileText(host));

  progress("waiting for the agent's memory to settle");
  const etcdPid = Number(await Deno.readTextFile(`${agent.dataDir}/etcd.pid`));
  const agentIdle = await settledRss(agentPid);
  const agentIdlePrivate = await readRssAnon(agentPid);
  const etcdIdle = await readRss(etcdPid);

  const sampler = new PeakSampler({ agent: agentPid, etcd: etcdPid }, 100);
  stack.defer(() => void sampler.stop());
  const load = { durationS: o.durationS, connections: CONNECTIONS };
  progress(`wrk: backend direct, nginx, fossora (${WARMUP_S}s warm-up + ${o.durationS}s each)`);
  const direct = await measureProxy(backendPort, host, load, WARMUP_S);
  const nginxRun = await measureProxy(nginx.port, host, load, WARMUP_S);
  const fossoraRun = await measureProxy(agent.ports.http, host, load, WARMUP_S);
  const dnsLoad = { durationS: o.durationS, clients: DNS_CLIENTS };
  progress(`dnsperf: dnsmasq, fossora (1s warm-up + ${o.durationS}s each)`);
  const dnsmasqRun = await measureDns(dnsmasq.port, queries, dnsLoad, 1);
  const fossoraDns = await measureDns(agent.ports.dns, queries, dnsLoad, 1);
  const { peaks, samples } = sampler.stop();
  if (agent.exited) throw new Error("the agent exited during the load runs");

  return {
    proxy: { fossora: fossoraRun, nginx: nginxRun, direct, ...load },
    dns: { fossora: fossoraDns, dnsmasq: dnsmasqRun, ...dnsLoad },
    rss: {
      agentIdle,
      agentIdlePrivate,
      agentPeak: peaks.agent,
      etcdIdle,
      etcdPeak: peaks.etcd,
      samples,
    },
  };
}

/** Adds a resource to the stack; if the bench was already cleaned up (budget, signal), drops it. */
async function own<T extends AsyncDisposable>(stack: AsyncDisposableStack, r: T): Promise<T> {
  if (stack.disposed) {
    await r[Symbol.asyncDispose]();
    throw new Error("stopped while starting");
  }
  return stack.use(r);
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
      disposal = stack.disposeAsync().catch((e) => progress(`cleanup failed: ${e}`));
    }
    return disposal;
  };
  const onSignal = () => void cleanup().then(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overBudget = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`over the ${BUDGET_MS / 1000}s budget`)),
      BUDGET_MS,
    );
  });
  try {
    const started = Date.now();
    const figures = await Promise.race([bench(o, stack), overBudget]);
    await cleanup();
    const v = verdicts(figures);
    if (o.json) {
      const ratios = {
        proxy: ratio(figures.proxy.fossora.requestsPerSec, figures.proxy.nginx.requestsPerSec),
        dns: ratio(figures.dns.fossora.queriesPerSec, figures.dns.dnsmasq.queriesPerSec),
      };
      console.log(JSON.stringify({ figures, ratios, verdicts: v }, null, 2));
    } else console.log(formatReport(figures, v));
    progress(`done in ${((Date.now() - started) / 1000).toFixed(0)}s`);
    return 0;
  } catch (err) {
    console.error(`bench: could not measure: ${(err as Error).message}`);
    return 1;
  } finally {
    clearTimeout(timer);
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) {
  // The agent's disposal removes its containers; say so if any survived.
  const code = await main();
  const left = await runOk("docker", ["ps", "-aq", "--filter", `ancestor=${BENCH_IMAGE}`])
    .catch(() => "");
  if (left.trim()) console.error(`bench: warning: containers of ${BENCH_IMAGE} still exist`);
  Deno.exit(code);
}
