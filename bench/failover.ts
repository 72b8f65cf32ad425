/**
 * Issue 8's failover figures, on three hosts of the one-machine harness (network namespaces on a
 * bridge, each with its own dockerd and agent, all voters), run twice: on the bare bridge, then
 * with the harness's delay relays adding `delayMs` each way to etcd, API and heartbeat traffic
 * between hosts (etcd's timing retuned to it, `--etcd-tune-interval=5`, before anything is
 * measured).
 *
 * - A trial: a one-replica web service runs on some node; that node dies as in a power cut (its
 *   agent and etcd SIGKILLed, its containers `docker kill`ed); the time until another node's
 *   proxy answers for the service from a replica elsewhere, polled every 50 ms. The dead node is
 *   then started again and the cluster waits for three ready voters before the next trial, so
 *   each trial kills whichever node the service moved to (sometimes the scheduler, sometimes
 *   etcd's leader: both are noted).
 * - The reference, measured in the same trial on a surviving host: `docker run` of the same
 *   image with its port published, until it answers over HTTP. That is the floor any failover
 *   pays (starting the container); fossora's time adds noticing the death (the heartbeats'
 *   `DEAD_AFTER_MS`, or the node's lease, `LIVENESS_TTL_S`), scheduling, and every proxy
 *   learning the new replica.
 * - A rolling update (bare bridge): a three-replica service rolled to a new generation while
 *   requests go through a node's proxy every 10 ms; every failed request counts (goal 0).
 * - False alarms: with the delay, the three nodes left alone for `watchS` seconds while every
 *   host's view of the nodes is sampled every 500 ms; a node that leaves `ready` while it runs,
 *   or an agent that logs a lost lease, is a false alarm.
 * @module
 */
import { BUSYBOX_IMAGE, type Host, Hosts } from "../test/helpers/hosts.ts";
import { httpRequest } from "../test/helpers/http.ts";
import { deployWeb, proxyGet, readyVoters, startJoined } from "../test/helpers/cluster.ts";
import { waitFor } from "../test/helpers/wait.ts";
import { listNodes } from "./members.ts";
import { type Load, LoadWatch } from "./others.ts";

const DOMAIN = "fossora.home.arpa";
const SERVICE = "failover";
/** The busybox image's page, what an answering replica serves. */
const BODY = "hello from fossora-test";
/** A trial that has not answered by then failed (the max goal is 8 s). */
const ANSWER_TIMEOUT_MS = 60_000;
/** How long a restarted node may take to be a ready voter again. */
const REJOIN_TIMEOUT_MS = 120_000;
/** How long etcd may take to be retuned to the delay. */
const TUNE_TIMEOUT_MS = 240_000;

/** One node death. */
export interface FailoverTrial {
  /** The node that was killed. */
  victim: string;
  /** It held the scheduler role. */
  scheduler: boolean;
  /** Its etcd member led the raft group. */
  etcdLeader: boolean;
  /** From the kill until another node's proxy answered from a replica elsewhere. */
  ms: number;
  /** The reference: `docker run` of the same image until it answered. */
  refMs: number;
}

/** A rolling update of a three-replica service under load through a node's proxy. */
export interface RollFigures {
  replicas: number;
  requests: number;
  failed: number;
  /** From the deploy until every replica was ready at the new generation. */
  ms: number;
}

/** One cluster's figures. */
export interface FailoverRun {
  /** Delay added each way between hosts (0 on the bare bridge). */
  delayMs: number;
  trials: FailoverTrial[];
  /** Seconds the nodes were watched for false alarms (0: not watched). */
  watchS: number;
  /** Times a running node left `ready` in some host's view while watched. */
  notReady: number;
  /** "lease lost" lines the agents logged while watched. */
  leaseLost: number;
  /** On the bare bridge only. */
  roll?: RollFigures;
  load: Load;
}

/** What the failover benchmark measured. */
export interface FailoverFigures {
  runs: FailoverRun[];
}

/** What to measure. */
export interface FailoverOptions {
  trials: number;
  /** The delayed run's added delay, each way. */
  delayMs: number;
  /** Seconds of watching for false alarms on the delayed cluster. */
  watchS: number;
}

/** The node whose replica of the service is ready, as `via` sees it. */
async function replicaNode(via: Host): Promise<string | undefined> {
  const res = await via.fetch(`/api/v1/services/${SERVICE}`, {
    signal: AbortSignal.timeout(2000),
  }).catch(() => undefined);
  if (!res?.ok) return void await res?.body?.cancel();
  const { replicas } = (await res.json()) as { replicas: { node: string; ready: boolean }[] };
  return replicas.find((r) => r.ready)?.node;
}

function hostOf(cluster: Hosts, node: string | undefined): Host | undefined {
  return cluster.hosts.find((h) => h.nodeId === node || h.name === node);
}

/** The name of the node holding the scheduler role, as `via` sees it. */
async function schedulerOf(via: Host): Promise<string | undefined> {
  const { leader } = await via.json<{ leader: { name: string } | null }>("/api/v1/cluster");
  return leader?.name;
}

/** The host whose etcd member leads, from its member's own status (etcd's JSON gateway). */
async function etcdLeaderOf(cluster: Hosts): Promise<string | undefined> {
  for (const h of cluster.hosts) {
    const pki = `${h.dataDir}/pki`;
    const r = await h.exec([
      "curl",
      "-s",
      "--max-time",
      "2",
      "--cacert",
      `${pki}/ca.crt`,
      "--cert",
      `${pki}/node.crt`,
      "--key",
      `${pki}/node.key`,
      "-d",
      "{}",
      `https://${h.address}:${h.etcdClientPort}/v3/maintenance/status`,
    ]);
    try {
      const s = JSON.parse(r.stdout) as { header?: { member_id?: string }; leader?: string };
      if (s.leader && s.header?.member_id === s.leader) return h.name;
    } catch { /* not answering: a worker, or down */ }
  }
  return undefined;
}

/** Kills a node as a power cut would: agent and etcd, then its containers. */
async function powerCut(h: Host): Promise<void> {
  await h.kill();
  const ps = await h.docker("ps", "-q", "--filter", "label=fossora.node");
  for (const id of ps.stdout.trim().split("\n").filter(Boolean)) await h.docker("kill", id);
}

/** `docker run` of the service's image on `h`, until it answers over HTTP; then removes it. */
async function referenceStart(h: Host): Promise<number> {
  const name = `failover-ref-${crypto.randomUUID().slice(0, 6)}`;
  const t0 = performance.now();
  const run = await h.docker("run", "-d", "--name", name, "-p", `${h.address}::80`, BUSYBOX_IMAGE);
  try {
    if (run.code !== 0) throw new Error(`docker run: ${run.stderr.trim()}`);
    const port = (await h.docker("port", name, "80")).stdout.trim().split("\n")[0].split(":").pop();
    await waitFor(
      "the reference container to answer",
      async () => {
        const r = await h.exec(["curl", "-s", "--max-time", "1", `http://${h.address}:${port}/`]);
        return r.stdout.includes(BODY);
      },
      30_000,
      50,
    );
    return performance.now() - t0;
  } finally {
    await h.docker("rm", "-f", name);
  }
}

/** Waits until every voter's etcd runs with timing above the delay, and no retune is under way. */
async function waitTuned(cluster: Hosts, delayMs: number): Promise<void> {
  await waitFor(
    "etcd retuned to the delay",
    async () => {
      for (const h of cluster.hosts) {
        const pid = Number(await Deno.readTextFile(`${h.dataDir}/etcd.pid`).catch(() => "0"));
        const args = (await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "")).split("\0");
        const hb = args.find((a) => a.startsWith("--heartbeat-interval="));
        if (!hb || Number(hb.split("=")[1]) <= delayMs) return false;
        const lines = h.output.filter((l) => /with new timing/.test(l));
        if (/restarting this member/.test(lines.at(-1) ?? "")) return false;
      }
      return true;
    },
    TUNE_TIMEOUT_MS,
    1000,
  );
}

/** Samples every host's view of the nodes until `seconds` have passed; counts false alarms. */
async function watchNodes(
  cluster: Hosts,
  seconds: number,
): Promise<{ notReady: number; leaseLost: number }> {
  const lostBefore = cluster.hosts.map((h) => h.output.filter((l) => /lease lost/.test(l)).length);
  const wasReady = new Map<string, boolean>();
  let notReady = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const tick = performance.now();
    for (const h of cluster.hosts) {
      const nodes = await listNodes(h);
      if (nodes.length === 0) continue; // its API did not answer: not a node's state
      for (const peer of cluster.hosts) {
        const ready = nodes.some((n) => n.name === peer.name && n.state === "ready");
        const key = `${h.name}>${peer.name}`;
        if (wasReady.get(key) !== false && !ready) notReady++;
        wasReady.set(key, ready);
      }
    }
    await new Promise((r) => setTimeout(r, Math.max(0, tick + 500 - performance.now())));
  }
  const leaseLost = cluster.hosts.reduce(
    (n, h, i) => n + h.output.filter((l) => /lease lost/.test(l)).length - lostBefore[i],
    0,
  );
  return { notReady, leaseLost };
}

/** Rolls a three-replica service to a new generation while requests go through `via` every 10 ms. */
async function measureRoll(cluster: Hosts, via: Host): Promise<RollFigures> {
  const name = "rolled";
  const replicas = 3;
  const deploy = (version: string) =>
    cluster.hosts[0].json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({
        name,
        image: BUSYBOX_IMAGE,
        replicas,
        env: { VERSION: version },
        ports: [{ container: 80, http: true }],
      }),
      headers: { "content-type": "application/json" },
    });
  const atGeneration = async (g: number) => {
    const { replicas: rs } = await via.json<
      { replicas: { ready: boolean; generation: number }[] }
    >(`/api/v1/services/${name}`);
    return rs.filter((r) => r.ready && r.generation === g).length === replicas;
  };
  await deploy("1");
  await waitFor("three ready replicas", () => atGeneration(1), 60_000, 200);
  let stop = false;
  let requests = 0;
  let failed = 0;
  const load = (async () => {
    while (!stop) {
      const r = await httpRequest(80, `${name}.${DOMAIN}`, "/", "GET", via.address)
        .catch(() => undefined);
      requests++;
      if (r?.status !== 200) failed++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const t0 = performance.now();
  try {
    await deploy("2");
    await waitFor("every replica rolled", () => atGeneration(2), 180_000, 100);
  } finally {
    stop = true;
    await load;
  }
  return { replicas, requests, failed, ms: performance.now() - t0 };
}

async function oneCluster(
  o: FailoverOptions,
  delayMs: number,
  stack: AsyncDisposableStack,
  progress: (msg: string) => void,
): Promise<FailoverRun> {
  const label = delayMs ? `failover +${delayMs} ms` : "failover";
  progress(`${label}: making 3 hosts (a namespace and a dockerd each)`);
  const cluster = stack.use(
    await Hosts.create(3, {
      startAgents: false,
      handleSignals: false,
      delayMs: delayMs || undefined,
      agentFlags: ["--etcd-tune-interval=5"],
    }),
  );
  const watch = await LoadWatch.start();
  const [n1] = cluster.hosts;
  await startJoined(cluster);
  await waitFor("three ready voters", async () => (await readyVoters(n1)).length === 3, 120_000);
  if (delayMs) {
    progress(`${label}: waiting for etcd to be retuned to the delay`);
    await waitTuned(cluster, delayMs);
  }
  await deployWeb(n1, SERVICE);
  await waitFor(`${SERVICE} ready`, () => replicaNode(n1), 60_000);

  const trials: FailoverTrial[] = [];
  for (let i = 0; i < o.trials; i++) {
    const victim = hostOf(cluster, await waitFor("the replica's node", () => replicaNode(n1)));
    if (!victim) throw new Error("the replica runs on a node that is not one of the hosts");
    const observer = cluster.hosts.find((h) => h !== victim)!;
    const scheduler = (await schedulerOf(observer)) === victim.name;
    const etcdLeader = (await etcdLeaderOf(cluster)) === victim.name;
    const t0 = performance.now();
    await powerCut(victim);
    await waitFor(
      "the service to answer through another node",
      async () => {
        const node = await replicaNode(observer);
        return node !== undefined && hostOf(cluster, node) !== victim &&
          (await proxyGet(observer, `${SERVICE}.${DOMAIN}`, 1)).includes(BODY);
      },
      ANSWER_TIMEOUT_MS,
      50,
    );
    const ms = performance.now() - t0;
    const refMs = await referenceStart(observer);
    trials.push({ victim: victim.name, scheduler, etcdLeader, ms, refMs });
    progress(
      `${label}: ${i + 1}/${o.trials} ${victim.name} died` +
        `${scheduler ? " (scheduler)" : ""}${etcdLeader ? " (etcd leader)" : ""}; answering ` +
        `again in ${(ms / 1000).toFixed(2)} s; docker run in ${(refMs / 1000).toFixed(2)} s`,
    );
    await victim.start(undefined, REJOIN_TIMEOUT_MS);
    await waitFor(
      "three ready voters again",
      async () => (await readyVoters(observer)).length === 3,
      REJOIN_TIMEOUT_MS,
      500,
    );
  }

  let roll: RollFigures | undefined;
  if (!delayMs) {
    progress(`${label}: a rolling update of a 3-replica service under load`);
    roll = await measureRoll(cluster, cluster.hosts[1]);
    progress(
      `${label}: rolled in ${(roll.ms / 1000).toFixed(1)} s; ${roll.failed} of ` +
        `${roll.requests} requests failed`,
    );
  }
  let alarms = { notReady: 0, leaseLost: 0 };
  if (delayMs && o.watchS) {
    progress(`${label}: watching the idle cluster for false alarms for ${o.watchS} s`);
    alarms = await watchNodes(cluster, o.watchS);
  }
  return {
    delayMs,
    trials,
    watchS: delayMs ? o.watchS : 0,
    ...alarms,
    ...(roll ? { roll } : {}),
    load: await watch.stop(),
  };
}

/** Runs the failover benchmark, bare and delayed; everything it makes is disposed with `stack`. */
export async function measureFailover(
  o: FailoverOptions,
  stack: AsyncDisposableStack,
  progress: (msg: string) => void,
): Promise<FailoverFigures> {
  const runs: FailoverRun[] = [];
  for (const delayMs of [0, o.delayMs]) {
    const s = stack.use(new AsyncDisposableStack());
    try {
      runs.push(await oneCluster(o, delayMs, s, progress));
    } finally {
      await s.disposeAsync();
    }
  }
  return { runs };
}
