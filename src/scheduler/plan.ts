/**
 * The scheduling step: from the services, the nodes and the current assignments, the changes to
 * make. Pure, so it is tested without etcd.
 * @module
 */
import type { Assignment, NodeRecord, ServiceRecord } from "../state/types.ts";
import { eligibleNodes } from "./filters.ts";

/** What the scheduler decided. */
export interface SchedulePlan {
  put: Assignment[];
  remove: { service: string; replica: number }[];
  /** Services (or some of their replicas) that cannot be placed, with why. */
  unplaced: Map<string, string>;
}

/**
 * Keeps every replica where it is while its node stays eligible (a replica never moves without a
 * reason), places the others on the eligible node running the fewest replicas of that service,
 * then the fewest in all, and removes what is no longer wanted.
 */
export function planSchedule(
  services: ServiceRecord[],
  nodes: NodeRecord[],
  current: Assignment[],
): SchedulePlan {
  const plan: SchedulePlan = { put: [], remove: [], unplaced: new Map() };
  const byService = new Map<string, Assignment[]>();
  for (const a of current) byService.set(a.service, [...(byService.get(a.service) ?? []), a]);
  const load = new Map<string, number>();
  for (const a of current) load.set(a.node, (load.get(a.node) ?? 0) + 1);

  const wanted = new Set(services.map((s) => s.spec.name));
  for (const a of current) {
    if (!wanted.has(a.service)) plan.remove.push({ service: a.service, replica: a.replica });
  }
  for (const svc of services) {
    placeService(svc, nodes, byService.get(svc.spec.name) ?? [], load, plan);
  }
  return plan;
}

function placeService(
  svc: ServiceRecord,
  nodes: NodeRecord[],
  assigned: Assignment[],
  load: Map<string, number>,
  plan: SchedulePlan,
): void {
  const { spec, generation } = svc;
  const { nodes: eligible, reason } = eligibleNodes(spec, nodes);
  const eligibleIds = new Set(eligible.map((n) => n.id));
  const perNode = new Map<string, number>();
  for (const a of assigned) {
    if (a.replica < spec.replicas && eligibleIds.has(a.node)) {
      perNode.set(a.node, (perNode.get(a.node) ?? 0) + 1);
    }
  }
  for (let replica = 0; replica < spec.replicas; replica++) {
    const existing = assigned.find((a) => a.replica === replica);
    if (existing && eligibleIds.has(existing.node)) {
      if (existing.generation !== generation) plan.put.push({ ...existing, generation });
      continue;
    }
    if (eligible.length === 0) {
      // With nowhere better to go, a placed replica stays: its node may only have blinked
      // (a lost lease), and removing it would stop a container that may well be serving.
      plan.unplaced.set(spec.name, reason ?? "no eligible node");
      if (existing && existing.generation !== generation) {
        plan.put.push({ ...existing, generation });
      }
      continue;
    }
    const node = pick(eligible, perNode, load);
    perNode.set(node, (perNode.get(node) ?? 0) + 1);
    load.set(node, (load.get(node) ?? 0) + 1);
    plan.put.push({ service: spec.name, replica, node, generation });
  }
  for (const a of assigned) {
    if (a.replica >= spec.replicas) plan.remove.push({ service: spec.name, replica: a.replica });
  }
}

function pick(
  eligible: NodeRecord[],
  perNode: Map<string, number>,
  load: Map<string, number>,
): string {
  const score = (id: string) => [perNode.get(id) ?? 0, load.get(id) ?? 0];
  return eligible
    .map((n) => n.id)
    .sort((a, b) => {
      const [sa, la] = score(a);
      const [sb, lb] = score(b);
      return sa - sb || la - lb || a.localeCompare(b);
    })[0];
}
