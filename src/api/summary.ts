/**
 * The JSON shapes of the read routes, computed from the cluster view. Pure functions of the view
 * so each shape is tested without a server.
 * @module
 */
import type {
  ClusterEvent,
  NodeRecord,
  NodeRole,
  NodeState,
  ReplicaState,
  ReplicaStatus,
  ServiceRecord,
  ServiceSpec,
} from "../state/types.ts";
import { type ClusterView, serviceUrl } from "../state/view.ts";
import { type NodeEligibility, nodeEligibility } from "../scheduler/eligibility.ts";

/** How a service is doing, in one word. */
export type ServiceState = "stopped" | "pending" | "starting" | "ready" | "degraded" | "failing";

/** One row of `GET /api/v1/services`. */
export interface ServiceSummary {
  /** The stack it belongs to, for a service deployed from a compose file. */
  stack?: string;
  name: string;
  image: string;
  generation: number;
  /** Replicas wanted. */
  replicas: number;
  /** Replicas whose container runs. */
  running: number;
  /** Replicas that run and accept connections. */
  ready: number;
  /** Names of the nodes that run a replica, sorted. */
  nodes: string[];
  /** `http://NAME.DOMAIN/` when the service has an HTTP port, else null. */
  url: string | null;
  /** Published TCP ports. */
  published: number[];
  /** Published UDP ports. */
  publishedUdp: number[];
  state: ServiceState;
  /** What keeps the service from running as wanted, in words; null when nothing does. */
  problem: string | null;
}

/** One replica in `GET /api/v1/services/:name`. */
export interface ReplicaSummary {
  replica: number;
  /** Node name (the id when the node is not known). */
  node: string;
  nodeId: string;
  containerId: string | null;
  state: ReplicaState;
  ready: boolean;
  exitCode: number | null;
  message: string | null;
  since: string;
  restarts: number;
  generation: number;
}

/** The body of `GET /api/v1/services/:name`. */
export interface ServiceDetail {
  name: string;
  spec: ServiceSpec;
  generation: number;
  createdAt: string;
  updatedAt: string;
  url: string | null;
  state: ServiceState;
  problem: string | null;
  replicas: ReplicaSummary[];
  /**
   * Every live node: whether it may run the service, or the placement filter's reason why not
   * ("node2 has no /srv/media"). Absent from agents of before it.
   */
  nodes?: NodeEligibility[];
  /** What happened to it (moves, and why), newest first, at most {@link SERVICE_EVENTS}. */
  events: ClusterEvent[];
}

/** Events shown with one service. */
export const SERVICE_EVENTS = 20;

/** A row of `GET /api/v1/nodes`: the node's record, and what the scheduler does with it. */
export interface NodeSummary extends NodeRecord {
  /** Drained by a person: no replica is placed on it, and those it ran move away. */
  drained: boolean;
  /** Replicas it reports, running or not. */
  replicas: number;
}

/** A member in `GET /api/v1/cluster`. */
export interface MemberSummary {
  id: string;
  name: string;
  address: string;
  role: NodeRole;
  state: NodeState;
  leader: boolean;
}

/** The body of `GET /api/v1/cluster`. */
export interface ClusterSummary {
  id: string | null;
  domain: string;
  version: string;
  leader: { id: string; name: string } | null;
  node: { id: string; name: string };
  members: MemberSummary[];
  /** What failures the control plane survives now, in numbers and in words. */
  resilience: Resilience;
  /** What a person should know about the cluster: another cluster running services beside it. */
  warnings: string[];
}

/** How many etcd voters there are, how many are up, and what one more failure does. */
export interface Resilience {
  voters: number;
  votersUp: number;
  /** Voters that may still fail with the cluster still able to change (0 or more). */
  tolerates: number;
  summary: string;
}

/**
 * What one failure does, said plainly: the workers may always fail; the voters keep the
 * cluster's state, and a majority of them must be up for anything to change (services that run
 * keep running either way).
 */
export function resilienceOf(nodes: readonly NodeRecord[]): Resilience {
  const voters = nodes.filter((n) => n.role === "voter" && n.state !== "left");
  const up = voters.filter((n) => n.state === "ready");
  const quorum = Math.floor(voters.length / 2) + 1;
  const tolerates = Math.max(0, up.length - quorum);
  const workers = nodes.some((n) => n.role === "worker" && n.state === "ready")
    ? "; workers may fail freely"
    : "";
  let summary: string;
  if (voters.length === 0) {
    summary = "no voter is known yet";
  } else if (up.length < quorum) {
    summary = `only ${up.length} of ${voters.length} voters are up: nothing can change (deploys, ` +
      "joins, failover) until a majority is back; running services keep running";
  } else if (tolerates === 0) {
    const names = up.map((n) => n.name).join(", ");
    summary = voters.length === 1
      ? `one voter (${names}): if it fails, nothing can change until it is back` + workers
      : `${up.length} of ${voters.length} voters up (${names}): one more failure stops changes` +
        workers;
  } else {
    summary = `${voters.length} voters: any ${tolerates} may fail` + workers;
  }
  return { voters: voters.length, votersUp: up.length, tolerates, summary };
}

export { serviceUrl };

/** One word for a service's health, from what it wants and what its replicas report. */
export function serviceState(wanted: number, replicas: ReplicaStatus[]): ServiceState {
  if (wanted === 0) return "stopped";
  const ready = replicas.filter((r) => r.ready).length;
  if (ready >= wanted) return "ready";
  if (replicas.some((r) => r.state === "error" || r.state === "exited")) return "failing";
  if (ready > 0) return "degraded";
  if (replicas.length === 0) return "pending";
  return "starting";
}

/** The placement problem, else the first failing replica's message. */
export function serviceProblem(
  view: ClusterView,
  name: string,
  replicas: ReplicaStatus[],
): string | null {
  const placement = view.placementProblem(name);
  if (placement) return `cannot be placed: ${placement.reason}`;
  const failing = replicas.find((r) => (r.state === "error" || r.state === "exited") && r.message);
  if (!failing) return null;
  const generation = view.service(name)?.generation;
  const older = replicas.filter((r) => r.ready && r.generation < (generation ?? 0));
  if (failing.generation === generation && older.length > 0) {
    // A roll waits for each new replica: a new generation that fails stops it right there.
    const message = failing.message ?? "";
    const what = message.startsWith(UNHEALTHY)
      ? `fails its health check (${message.slice(UNHEALTHY.length)})`
      : `does not start (${message})`;
    return `the update to generation ${generation} is stopped: replica ${failing.replica} ` +
      `${what}; ${older.length} replica(s) of generation ` +
      `${older[0].generation} keep serving. Deploy a fixed spec to go on.`;
  }
  return `replica ${failing.replica}: ${failing.message}`;
}

/** How the runtime begins the message of a replica whose health check fails. */
const UNHEALTHY = "unhealthy: ";

function nodeName(view: ClusterView, id: string): string {
  return view.node(id)?.name ?? id;
}

/** Why the proxy last failed to reach a service, if it did lately. */
export type ProxyProblem = (service: string) => string | undefined;

/** A row of the services list. */
export function summarizeService(
  view: ClusterView,
  record: ServiceRecord,
  domain: string,
  proxyProblem?: ProxyProblem,
): ServiceSummary {
  const spec = record.spec;
  const replicas = view.replicasOf(spec.name);
  const nodes = [...new Set(replicas.map((r) => nodeName(view, r.node)))].sort();
  return {
    name: spec.name,
    ...(spec.stack ? { stack: spec.stack } : {}),
    image: spec.image,
    generation: record.generation,
    replicas: spec.replicas,
    running: replicas.filter((r) => r.state === "running").length,
    ready: replicas.filter((r) => r.ready).length,
    nodes,
    url: serviceUrl(spec, domain, replicas),
    published: spec.ports.flatMap((p) =>
      p.published === undefined || p.protocol === "udp" ? [] : [p.published]
    ),
    publishedUdp: spec.ports.flatMap((p) =>
      p.published === undefined || p.protocol !== "udp" ? [] : [p.published]
    ),
    state: serviceState(spec.replicas, replicas),
    problem: serviceProblem(view, spec.name, replicas) ?? proxyProblem?.(spec.name) ?? null,
  };
}

function summarizeReplica(view: ClusterView, r: ReplicaStatus): ReplicaSummary {
  return {
    replica: r.replica,
    node: nodeName(view, r.node),
    nodeId: r.node,
    containerId: r.containerId ?? null,
    state: r.state,
    ready: r.ready,
    exitCode: r.exitCode ?? null,
    message: r.message ?? null,
    since: r.since,
    restarts: r.restarts,
    generation: r.generation,
  };
}

/** One service with its replicas. */
export function describeService(
  view: ClusterView,
  record: ServiceRecord,
  domain: string,
  proxyProblem?: ProxyProblem,
): ServiceDetail {
  const replicas = view.replicasOf(record.spec.name);
  return {
    name: record.spec.name,
    spec: record.spec,
    generation: record.generation,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    url: serviceUrl(record.spec, domain, replicas),
    state: serviceState(record.spec.replicas, replicas),
    problem: serviceProblem(view, record.spec.name, replicas) ??
      proxyProblem?.(record.spec.name) ?? null,
    replicas: replicas.map((r) => summarizeReplica(view, r)),
    nodes: nodeEligibility(view, record.spec),
    events: view.events(record.spec.name).slice(0, SERVICE_EVENTS),
  };
}

/**
 * Every node the cluster knows: the live ones as their records say, and the admitted ones that
 * are not running now, as `down` (or `left`), with when they were last seen.
 */
export function summarizeNodes(view: ClusterView): NodeSummary[] {
  const replicas = new Map<string, number>();
  for (const svc of view.services()) {
    for (const r of view.replicasOf(svc.spec.name)) {
      replicas.set(r.node, (replicas.get(r.node) ?? 0) + 1);
    }
  }
  return nodeRecords(view).map((n) => ({
    ...n,
    drained: view.drain(n.id) !== undefined,
    replicas: replicas.get(n.id) ?? 0,
  }));
}

function nodeRecords(view: ClusterView): NodeRecord[] {
  const live = new Map(view.nodes().map((n) => [n.id, n]));
  const out: NodeRecord[] = [];
  for (const m of view.members()) {
    const n = live.get(m.id);
    live.delete(m.id);
    if (n && !m.leftAt) {
      out.push(n);
      continue;
    }
    out.push({
      id: m.id,
      name: m.name,
      address: m.address,
      arch: m.arch,
      site: m.site,
      labels: {},
      role: m.role,
      state: m.leftAt ? "left" : "down",
      version: "",
      apiPort: m.apiPort,
      httpPort: 0,
      dnsPort: 0,
      startedAt: "",
      lastSeen: new Date(m.leftAt ?? m.downAt ?? m.joinedAt).toISOString(),
    });
  }
  return [...out, ...live.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The cluster at a glance, as this node sees it. */
export function summarizeCluster(
  view: ClusterView,
  o: {
    nodeId: string;
    nodeName: string;
    domain: string;
    version: string;
    leader?: string;
    warnings?: string[];
  },
): ClusterSummary {
  const leader = o.leader === undefined ? null : { id: o.leader, name: nodeName(view, o.leader) };
  return {
    id: view.cluster()?.id ?? null,
    domain: o.domain,
    version: o.version,
    leader,
    node: { id: o.nodeId, name: o.nodeName },
    resilience: resilienceOf(summarizeNodes(view)),
    members: summarizeNodes(view).map((n: NodeRecord) => ({
      id: n.id,
      name: n.name,
      address: n.address,
      role: n.role,
      state: n.state,
      leader: n.id === o.leader,
    })),
    warnings: o.warnings ?? [],
  };
}
