/**
 * Small steps the multi-host tests share: a cluster joined one host at a time, its ready voters,
 * a web service deployed, and what a host's proxy answers.
 * @module
 */
import { BUSYBOX_IMAGE, type Host, type Hosts } from "./hosts.ts";

/**
 * Starts the first host, then each other one after the other, joining the first with its token
 * (one at a time, so the roles are known). Returns the join flags, for starting a host again.
 */
export async function startJoined(cluster: Hosts): Promise<string[]> {
  const [first, ...others] = cluster.hosts;
  await first.start();
  const { token } = await first.json<{ token: string }>("/api/v1/token");
  const tokenFile = `${cluster.dir}/join-token`;
  await Deno.writeTextFile(tokenFile, token + "\n", { mode: 0o600 });
  const join = [`--join=${first.address}:${first.apiPort}`, `--token-file=${tokenFile}`];
  for (const h of others) await h.start(join);
  return join;
}

/** The names of the ready voters, as `via` sees them, sorted. */
export async function readyVoters(via: Host): Promise<string[]> {
  const { nodes } = await via.json<{ nodes: { name: string; role: string; state: string }[] }>(
    "/api/v1/nodes",
  );
  return nodes.filter((n) => n.role === "voter" && n.state === "ready").map((n) => n.name).sort();
}

/** The body `via`'s proxy answers for `host` (curl in its namespace), "" when nothing came. */
export async function proxyGet(via: Host, host: string, maxTimeS = 2): Promise<string> {
  const args = ["curl", "-s", "--max-time", String(maxTimeS), "-H", `Host: ${host}`];
  return (await via.exec([...args, "http://127.0.0.1/"])).stdout;
}

/** Deploys `name`, the test image's web server on port 80, through `via`'s API. */
export async function deployWeb(
  via: Host,
  name: string,
  placement?: { labels: Record<string, string> },
): Promise<void> {
  await via.json("/api/v1/services", {
    method: "POST",
    body: JSON.stringify({
      name,
      image: BUSYBOX_IMAGE,
      ports: [{ container: 80, http: true }],
      ...(placement ? { placement } : {}),
    }),
    headers: { "content-type": "application/json" },
  });
}

/** How many containers of `service` run on `h`'s dockerd. */
export async function runningCopies(h: Host, service: string): Promise<number> {
  const r = await h.docker(
    "ps",
    "-q",
    "--filter",
    `label=fossora.service=${service}`,
    "--filter",
    "status=running",
  );
  return r.stdout.trim().split("\n").filter(Boolean).length;
}

/** Cuts (`up` false) or restores `h`'s link to the bridge, as a pulled cable would. */
export async function setLink(h: Host, up: boolean): Promise<void> {
  const args = ["link", "set", h.veth, up ? "up" : "down"];
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** `POST` to a host's etcd JSON gateway with its node certificate; the parsed answer, if any. */
async function etcdGateway(h: Host, path: string, body: unknown = {}): Promise<unknown> {
  const pki = `${h.dataDir}/pki`;
  const r = await h.exec([
    "curl",
    "-s",
    "--max-time",
    "3",
    "--cacert",
    `${pki}/ca.crt`,
    "--cert",
    `${pki}/node.crt`,
    "--key",
    `${pki}/node.key`,
    "-d",
    JSON.stringify(body),
    `https://${h.address}:${h.etcdClientPort}${path}`,
  ]);
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

interface MemberStatus {
  header?: { member_id?: string };
  leader?: string;
  isLearner?: boolean;
  raftAppliedIndex?: string;
}

/** Makes `to`'s etcd member the leader (etcd's leadership transfer), for faults that need it. */
export async function moveEtcdLeader(hosts: Host[], to: Host): Promise<void> {
  const statuses = await Promise.all(
    hosts.map((h) => etcdGateway(h, "/v3/maintenance/status") as Promise<MemberStatus>),
  );
  const target = statuses[hosts.indexOf(to)]?.header?.member_id;
  const leaderId = statuses.find((s) => s?.leader)?.leader;
  if (!target || !leaderId) throw new Error("cannot tell etcd's members apart");
  if (leaderId === target) return;
  const leader = hosts[statuses.findIndex((s) => s?.header?.member_id === leaderId)];
  await etcdGateway(leader, "/v3/maintenance/transfer-leadership", { targetID: target });
  const now = (await etcdGateway(to, "/v3/maintenance/status")) as MemberStatus | undefined;
  if (now?.leader !== target) throw new Error(`${to.name} did not become etcd's leader`);
}

/**
 * True once every host's etcd member answers, none is a learner, and all name the same leader
 * with their applied logs close: a voter just promoted that has not caught up yet cannot vote,
 * and a fault then would leave the others without quorum.
 */
export async function settledMembers(hosts: Host[]): Promise<boolean> {
  return (await unsettledMembers(hosts)) === "";
}

/** Why the members are not settled (see {@link settledMembers}), or "" when they are. */
export async function unsettledMembers(hosts: Host[]): Promise<string> {
  const statuses = await Promise.all(
    hosts.map((h) => etcdGateway(h, "/v3/maintenance/status") as Promise<MemberStatus>),
  );
  const silent = hosts.filter((_, i) => !statuses[i]?.leader);
  if (silent.length) return `no leader known to ${silent.map((h) => h.name).join(", ")}`;
  const learners = hosts.filter((_, i) => statuses[i]!.isLearner);
  if (learners.length) return `learners: ${learners.map((h) => h.name).join(", ")}`;
  const leaders = statuses.map((s) => s!.leader);
  if (new Set(leaders).size !== 1) {
    return `leaders differ: ${hosts.map((h, i) => `${h.name}→${leaders[i]}`).join(", ")}`;
  }
  const applied = statuses.map((s) => Number(s!.raftAppliedIndex ?? 0));
  if (Math.max(...applied) - Math.min(...applied) > 5) {
    return `applied indexes apart: ${hosts.map((h, i) => `${h.name} ${applied[i]}`).join(", ")}`;
  }
  return "";
}
