/**
 * The scheduling step: from the services, the nodes and the current assignments, the changes to
 * make. Pure, so it is tested without etcd.
 * @module
 */
import type {
  Assignment,
  MemberRecord,
  NodeRecord,
  Resources,
  ServiceRecord,
} from "../state/types.ts";
import { eligibleNodes, NO_FACTS, type NodeFacts, rejection } from "./filters.ts";
import { HostPorts } from "./host_ports.ts";
import { VolumeGroups } from "./shared_volumes.ts";

/** A replica placed on another node than before, and why. */
export interface Move {
  service: string;
  replica: number;
  /** Node ids. */
  from: string;
  to: string;
  /** Absent when the old node is gone; else the filter's reason ("node2 is drained"). */
  why?: string;
}

/** What the scheduler decided. */
export interface SchedulePlan {
  put: Assignment[];
  remove: { service: string; replica: number }[];
  /** Services (or some of their replicas) that cannot be placed, with why. */
  unplaced: Map<string, string>;
  moves: Move[];
}

/** What the plan needs beyond services, nodes and assignments. */
export interface ScheduleFacts extends NodeFacts {
  /** True when `node` reports the replica ready at that generation. */
  ready(service: string, replica: number, node: string, generation: number): boolean;
  /** The admitted nodes, for their etcd ports (host networking may not take them). */
  members?: MemberRecord[];
}

/** Nothing drained, nothing ready. */
export const NO_SCHEDULE_FACTS: ScheduleFacts = { ...NO_FACTS, ready: () => false };

/**
 * Keeps every replica where it is while its node stays eligible (a replica never moves without a
 * reason), places the others spread across sites, then nodes, then on the node with the fewest
 * replicas in all, and removes what is no longer wanted. A replica on a node that is gone
 * moves at once; one on a node that is up but no longer fits (drained, labels changed) moves
 * make-before-break, one at a time per node: the old node keeps its copy (`previous`) until the
 * new copy is ready. A service with volumes moves break-before-make: its new copy starts only
 * once the old one has stopped and released its lock (see the agent).
 */
export function planSchedule(
  services: ServiceRecord[],
  nodes: NodeRecord[],
  current: Assignment[],
  facts: ScheduleFacts = NO_SCHEDULE_FACTS,
): SchedulePlan {
  const plan: SchedulePlan = { put: [], remove: [], unplaced: new Map(), moves: [] };
  const byService = new Map<string, Assignment[]>();
  for (const a of current) byService.set(a.service, [...(byService.get(a.service) ?? []), a]);
  const load = new Map<string, number>();
  for (const a of current) load.set(a.node, (load.get(a.node) ?? 0) + 1);
  // Nodes a replica is moving off now: the next waits until that one is ready elsewhere.
  const leaving = new Set(current.flatMap((a) => (a.previous ? [a.previous] : [])));

  const wanted = new Set(services.map((s) => s.spec.name));
  for (const a of current) {
    if (!wanted.has(a.service)) plan.remove.push({ service: a.service, replica: a.replica });
  }
  // What the replicas placed so far reserve on each node.
  const specs = new Map(services.map((s) => [s.spec.name, s.spec]));
  const used = new Map<string, Required<Resources>>();
  for (const a of current) {
    const spec = specs.get(a.service);
    if (spec && a.replica < spec.replicas) reserve(used, a.node, spec.resources);
  }
  const left = (n: NodeRecord): Resources | undefined => {
    if (!n.capacity) return undefined;
    const u = used.get(n.id) ?? { cpus: 0, memory: 0 };
    return { cpus: n.capacity.cpus - u.cpus, memory: n.capacity.memory - u.memory };
  };
  // Where host-network replicas hold ports: a copy being moved off a node still holds its own.
  const placed = current.flatMap((a) => {
    const spec = specs.get(a.service);
    if (!spec || a.replica >= spec.replicas) return [];
    return [a.node, ...(a.previous ? [a.previous] : [])].map((node) => ({
      service: a.service,
      node,
    }));
  });
  const ports = new HostPorts([...specs.values()], placed, facts.members);
  // Where each service runs (a service with volumes runs one copy), as placed so far.
  const nodeOf = new Map<string, string>();
  for (const a of current) if (a.replica === 0) nodeOf.set(a.service, a.node);
  const groups = new VolumeGroups([...specs.values()]);
  const ready = new Map(nodes.filter((n) => n.state === "ready").map((n) => [n.id, n]));
  const placing: ScheduleFacts = {
    ...facts,
    left,
    portHolder: (n, key, service) => ports.holder(n, key, service),
    runsReplica: (n, service) => ports.runs(n.id, service),
    volumeGroup: (spec) => {
      const group = groups.of(spec);
      return group && { group, nodeOf: (s: string) => ready.get(nodeOf.get(s) ?? "") };
    },
  };
  const ctx = { nodes, load, leaving, facts: placing, ports, used, plan, nodeOf };
  for (const svc of services) placeService(svc, byService.get(svc.spec.name) ?? [], ctx);
  return plan;
}

function reserve(used: Map<string, Required<Resources>>, node: string, r?: Resources): void {
  const u = used.get(node) ?? { cpus: 0, memory: 0 };
  used.set(node, { cpus: u.cpus + (r?.cpus ?? 0), memory: u.memory + (r?.memory ?? 0) });
}

interface Context {
  nodes: NodeRecord[];
  load: Map<string, number>;
  leaving: Set<string>;
  facts: ScheduleFacts;
  ports: HostPorts;
  used: Map<string, Required<Resources>>;
  plan: SchedulePlan;
  nodeOf: Map<string, string>;
}

function placeService(svc: ServiceRecord, assigned: Assignment[], ctx: Context): void {
  const { nodes, load, leaving, facts, ports, used, plan } = ctx;
  const { spec, generation } = svc;
  // A new service or generation waits (briefly) to learn which platforms its image is built
  // for, rather than start where it cannot run; replicas already placed move without waiting.
  const placing = assigned.length === 0 || assigned.some((a) => a.generation !== generation);
  if (placing && facts.platformsPending?.(spec.image)) return;
  // Where a replica may stay: resources and the ports of other host-network replicas are left
  // out, a placed replica already has its share (a replica never moves for them), and so are
  // host paths its node has not reported yet (its agent restarting). A new one goes where
  // they are left and known too.
  const { nodes: eligible, reason } = eligibleNodes(spec, nodes, {
    ...facts,
    left: undefined,
    runsReplica: undefined,
    staying: true,
    portHolder: (n, key, service) => ports.holder(n, key, service, false),
  });
  const eligibleIds = new Set(eligible.map((n) => n.id));
  // A node that is up and serving can keep an old copy running while its replica moves.
  const live = new Map(nodes.filter((n) => n.state === "ready").map((n) => [n.id, n]));
  const known = new Map(nodes.map((n) => [n.id, n]));
  const perNode = new Map<string, number>();
  for (const a of assigned) {
    if (a.replica < spec.replicas && eligibleIds.has(a.node)) {
      perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);
    }
  }
  const siteOf = new Map(nodes.map((n) => [n.id, n.site]));
  const perSite = new Map<string, number>();
  for (const [id, n] of perNode) {
    perSite.set(siteOf.get(id)!, (perSite.get(siteOf.get(id)!) ?? 0) + n);
  }
  // A new generation rolls one replica at a time: the next waits until every replica already
  // at it is ready, so a generation that never becomes ready stops the roll with the old
  // replicas still serving.
  let rollSlot = !assigned.some((a) =>
    a.replica < spec.replicas && a.generation === generation &&
    !facts.ready(spec.name, a.replica, a.node, generation)
  );
  const nextGeneration = (a: Assignment): number => {
    if (a.generation === generation) return generation;
    if (!rollSlot) return a.generation;
    rollSlot = false;
    return generation;
  };
  // Host networking runs one replica a node: a second one there moves.
  const kept = new Set<string>();
  for (let replica = 0; replica < spec.replicas; replica++) {
    const existing = assigned.find((a) => a.replica === replica);
    if (
      existing && eligibleIds.has(existing.node) && !(spec.hostNetwork && kept.has(existing.node))
    ) {
      kept.add(existing.node);
      let next: Assignment = { ...existing, generation: nextGeneration(existing) };
      if (
        existing.previous &&
        (!live.has(existing.previous) ||
          facts.ready(spec.name, replica, existing.node, existing.generation))
      ) {
        // The new copy serves (or the old node is gone): the old copy may stop.
        const { previous: _, ...rest } = next;
        next = rest;
      }
      if (JSON.stringify(next) !== JSON.stringify(existing)) plan.put.push(next);
      continue;
    }
    if (eligible.length === 0) {
      // With nowhere better to go, a placed replica stays: its node may only have blinked
      // (a lost lease), and removing it would stop a container that may well be serving.
      plan.unplaced.set(spec.name, reason ?? "no eligible node");
      if (existing && nextGeneration(existing) !== existing.generation) {
        plan.put.push({ ...existing, generation });
      }
      continue;
    }
    const oldNode = existing && live.get(existing.node);
    if (existing && oldNode) {
      // Up but no longer fitting: one replica at a time leaves a node, make-before-break.
      if (leaving.has(existing.node)) {
        if (nextGeneration(existing) !== existing.generation) {
          plan.put.push({ ...existing, generation });
        }
        continue;
      }
      leaving.add(existing.node);
    }
    const fit = eligibleNodes(spec, nodes, facts);
    if (fit.nodes.length === 0) {
      plan.unplaced.set(spec.name, fit.reason ?? "no eligible node");
      if (existing && nextGeneration(existing) !== existing.generation) {
        plan.put.push({ ...existing, generation });
      }
      continue;
    }
    const node = pick(fit.nodes, perSite, perNode, load);
    reserve(used, node, spec.resources);
    ports.add(spec.name, node);
    perNode.set(node, (perNode.get(node) ?? 0) + 1);
    const site = siteOf.get(node)!;
    perSite.set(site, (perSite.get(site) ?? 0) + 1);
    load.set(node, (load.get(node) ?? 0) + 1);
    const a: Assignment = { service: spec.name, replica, node, generation };
    if (replica === 0) ctx.nodeOf.set(spec.name, node);
    // A service with volumes runs once: the new copy waits for the old one's lock instead.
    if (existing && oldNode && spec.volumes.length === 0) a.previous = existing.node;
    plan.put.push(a);
    if (existing) {
      const was = known.get(existing.node);
      const why = was ? rejection(spec, was, facts) : undefined;
      plan.moves.push({ service: spec.name, replica, from: existing.node, to: node, why });
    }
  }
  for (const a of assigned) {
    if (a.replica >= spec.replicas) plan.remove.push({ service: spec.name, replica: a.replica });
  }
}

/**
 * The node for a new replica: spread across sites first (a house that loses power takes one
 * site), then across nodes, then the node with the fewest replicas of all services.
 */
function pick(
  eligible: NodeRecord[],
  perSite: Map<string, number>,
  perNode: Map<string, number>,
  load: Map<string, number>,
): string {
  const score = (n: NodeRecord) => [
    perSite.get(n.site) ?? 0,
    perNode.get(n.id) ?? 0,
    load.get(n.id) ?? 0,
  ];
  return [...eligible]
    .sort((a, b) => {
      const [xa, ya, za] = score(a);
      const [xb, yb, zb] = score(b);
      return xa - xb || ya - yb || za - zb || a.id.localeCompare(b.id);
    })[0].id;
}
