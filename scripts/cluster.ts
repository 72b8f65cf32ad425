/**
 * `scripts/start --nodes N`: an N-node cluster on this machine for a person to look at, made by
 * the system tests' harness (test/helpers/hosts.ts): each node a network namespace on a bridge,
 * with its own dockerd and agent. node1 starts the cluster and the others join it with its token
 * (unless --no-join). Prints where each node is and how to point `fossora` at it, then waits;
 * Ctrl-C (or SIGTERM) removes all of it.
 *
 * Usage: deno run -A scripts/cluster.ts N [--no-join] [--image IMAGE]... [agent flags]
 * @module
 */
import { formatTable } from "../src/cli/table.ts";
import { BUSYBOX_IMAGE, type Host, Hosts } from "../test/helpers/hosts.ts";

const MAX_NODES = 9;
const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

const USAGE = `Usage: scripts/start --nodes N [--no-join] [--image IMAGE]... [agent flags]
   or: deno run -A scripts/cluster.ts N [--no-join] [--image IMAGE]... [agent flags]

Runs an N-node fossora cluster on this machine (N from 1 to ${MAX_NODES}): each node is a network
namespace on a bridge, with its own dockerd and agent. node1 starts the cluster and the others
join it with its token (--no-join: each node stays a cluster of its own). The nodes cannot pull
images: --image copies one from this machine's Docker engine into every node (${BUSYBOX_IMAGE}
always is). Other flags go to every agent (see \`fossora agent --help\`). Ctrl-C removes all of
it.`;

/** What the command line asks for. */
export interface ClusterArgs {
  nodes: number;
  images: string[];
  agentFlags: string[];
  /** Whether node2… join node1 (false with --no-join, or when the agent flags name --join). */
  join: boolean;
}

/** Parses `N [--no-join] [--image IMAGE]... [agent flags]`; a string is the usage error. */
export function parseClusterArgs(argv: string[]): ClusterArgs | string {
  const [count, ...rest] = argv;
  if (count === undefined) return "give the number of nodes";
  if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > MAX_NODES) {
    return `the number of nodes is a whole number from 1 to ${MAX_NODES}, not ${
      JSON.stringify(count)
    }`;
  }
  const images = [BUSYBOX_IMAGE];
  const agentFlags: string[] = [];
  let join = true;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i];
    if (word === "--no-join") {
      join = false;
    } else if (word === "--join" || word.startsWith("--join=")) {
      join = false;
      agentFlags.push(word);
    } else if (word === "--image" || word.startsWith("--image=")) {
      const image = word === "--image" ? rest[++i] : word.slice("--image=".length);
      if (!image) return "--image needs an image name, e.g. --image nginx:1.25";
      if (!images.includes(image)) images.push(image);
    } else {
      agentFlags.push(word);
    }
  }
  return { nodes: Number(count), images, agentFlags, join };
}

/** What a person needs to use the cluster, as printed once every node is ready. */
export function describeCluster(
  cluster: Hosts,
  images: string[],
  roles: Map<string, string>,
  seconds: number,
): string {
  const [first, second] = cluster.hosts;
  const fossora = `${Deno.execPath()} run -A ${MAIN}`;
  const table = formatTable(
    ["NODE", "ADDRESS", "ROLE", "API", "NAMESPACE"],
    cluster.hosts.map((h) => [h.name, h.address, roles.get(h.name) ?? "-", h.api, h.netns]),
  );
  const other = second ?? first;
  const lines = [
    `${cluster.hosts.length} node${cluster.hosts.length > 1 ? "s" : ""} ready in ${
      seconds.toFixed(1)
    } s, on bridge ${cluster.bridge} (${cluster.subnet}):`,
    "",
    table.trimEnd(),
    "",
    "Point fossora at a node (its admin token is in --data-dir's admin-token):",
    `  ${fossora} nodes --api ${first.api} --data-dir ${first.dataDir}`,
    `  alias fossora="${fossora}"   # then: fossora status --api … --data-dir …`,
    "Deploy something (the nodes have these images and cannot pull others: " +
    `${images.join(", ")}):`,
    `  echo '{"name":"web","image":"${BUSYBOX_IMAGE}","ports":[{"container":80,"http":true}]}' |`,
    `    ${fossora} deploy - --api ${first.api} --data-dir ${first.dataDir}`,
    `  curl -s -H 'Host: web.fossora.home.arpa' http://${first.address}/`,
    "Run a command on a node, e.g. reach one node from another:",
    `  nsenter --net=/run/netns/${other.netns} curl -s ${first.api}/api/v1/health`,
    `Each node's files: ${cluster.dir}/nI/ (agent.log, dockerd.log, data/, docker.sock)`,
    `Its Docker engine: docker -H ${first.dockerHost} ps`,
    "",
    "Ctrl-C removes the cluster.",
  ];
  return lines.join("\n");
}

function agentWatch(host: Host, stopping: () => boolean): void {
  host.ended.then((status) => {
    if (stopping()) return;
    console.log(
      `${host.name}'s agent exited (code ${status.code}${
        status.signal ? `, ${status.signal}` : ""
      }); its log: ${host.logFile}`,
    );
  }, () => {});
}

/**
 * Makes the hosts and starts node1, then the others (joining node1 with its token, given in a
 * file so it is in no process's arguments); returns the roles node1 sees once all are ready.
 */
async function startCluster(
  args: ClusterArgs,
): Promise<{ cluster: Hosts; roles: Map<string, string> }> {
  const cluster = await Hosts.create(args.nodes, {
    images: args.images,
    agentFlags: args.agentFlags,
    startAgents: false,
    handleSignals: false,
    onWait: (m) => console.log(m),
  });
  try {
    const [first, ...others] = cluster.hosts;
    await first.start();
    let joinFlags: string[] = [];
    if (args.join && others.length) {
      const { token } = await first.json<{ token: string }>("/api/v1/token");
      const tokenFile = `${cluster.dir}/join-token`;
      await Deno.writeTextFile(tokenFile, token + "\n", { mode: 0o600 });
      joinFlags = [`--join=${first.address}:${first.apiPort}`, `--token-file=${tokenFile}`];
    }
    await Promise.all(others.map((h) => h.start(joinFlags)));
    const { nodes } = await first.json<{ nodes: { name: string; role?: string }[] }>(
      "/api/v1/nodes",
    );
    return { cluster, roles: new Map(nodes.map((n) => [n.name, n.role ?? "-"])) };
  } catch (err) {
    await cluster.dispose().catch(() => {});
    throw err;
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const args = parseClusterArgs(argv);
  if (typeof args === "string") {
    console.error(`cluster: ${args}\n\n${USAGE}`);
    return 2;
  }
  const signalled = Promise.withResolvers<Deno.Signal>();
  const onSigint = () => signalled.resolve("SIGINT");
  const onSigterm = () => signalled.resolve("SIGTERM");
  Deno.addSignalListener("SIGINT", onSigint);
  Deno.addSignalListener("SIGTERM", onSigterm);
  let stopping = false;
  const t0 = performance.now();
  console.log(`Starting ${args.nodes} node${args.nodes > 1 ? "s" : ""}…`);
  const creating = startCluster(args);
  const first = await Promise.race([creating.then(() => "made"), signalled.promise]);
  if (first !== "made") {
    stopping = true;
    console.log(`${first}: removing what was made once it is up…`);
  }
  let cluster: Hosts;
  let roles: Map<string, string>;
  try {
    ({ cluster, roles } = await creating);
  } catch (err) {
    console.error(`cluster: cannot start: ${err instanceof Error ? err.message : err}`);
    console.error("Everything made so far was removed.");
    return 1;
  }
  if (!stopping) {
    console.log(describeCluster(cluster, args.images, roles, (performance.now() - t0) / 1000));
    for (const h of cluster.hosts) agentWatch(h, () => stopping);
    const signal = await signalled.promise;
    stopping = true;
    console.log(`\n${signal}: removing the cluster…`);
  }
  try {
    await cluster.dispose();
  } catch (err) {
    console.error(`cluster: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
  console.log(
    `Removed ${cluster.hosts.length} node(s): agents, etcd, containers, dockerds, namespaces, ` +
      `bridge ${cluster.bridge}, its iptables rule and ${cluster.dir}.`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
