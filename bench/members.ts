/**
 * Watching nodes become members of a cluster of hosts (test/helpers/hosts.ts), for the cluster
 * benchmarks: a node counts as a ready member once its own API says it is ready and the cluster
 * (as one node lists it) shows it `ready`.
 * @module
 */
import type { Host } from "../test/helpers/hosts.ts";

/** A node as `GET /api/v1/nodes` lists it. */
export interface NodeView {
  name: string;
  state: string;
  role: string;
}

/** The nodes `via` lists; empty when it does not answer. */
export async function listNodes(via: Host): Promise<NodeView[]> {
  try {
    const { nodes } = await via.json<{ nodes: NodeView[] }>("/api/v1/nodes", {
      signal: AbortSignal.timeout(3000),
    });
    return nodes;
  } catch {
    return [];
  }
}

/** True when the host's agent answers `GET /api/v1/health` with 200 (ready). */
export async function isReady(h: Host): Promise<boolean> {
  try {
    const res = await fetch(`${h.api}/api/v1/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** The largest odd count of voters for `nodes` nodes, at most `maxVoters` (fossora's rule). */
export function expectedVoters(nodes: number, maxVoters = 5): number {
  const n = Math.min(nodes, maxVoters);
  return n % 2 === 1 ? n : n - 1;
}

/** When each host became a ready member, ms after `t0`, and its role then. */
export interface Joined {
  /** Host name to milliseconds after `t0`. */
  ms: Map<string, number>;
  /** Host name to the role `via` listed when it became a ready member. */
  roles: Map<string, string>;
}

/**
 * Waits until every host of `hosts` is a ready member (its own health is ready, and `via` lists
 * it `ready`); each one's time is when the later of the two was first seen, polled every
 * `everyMs`. Throws, naming the hosts still missing, after `timeoutMs` or when an agent exits.
 */
export async function waitMembers(
  via: Host,
  hosts: Host[],
  t0: number,
  timeoutMs: number,
  everyMs = 50,
): Promise<Joined> {
  const healthAt = new Map<string, number>();
  const listedAt = new Map<string, number>();
  const roles = new Map<string, string>();
  const deadline = t0 + timeoutMs;
  const missing = () => hosts.filter((h) => !healthAt.has(h.name) || !listedAt.has(h.name));
  while (missing().length) {
    const exited = hosts.find((h) => !h.running);
    if (exited) {
      throw new Error(
        `${exited.name}'s agent exited before it was a member: see ${exited.logFile}`,
      );
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${missing().map((h) => h.name).join(", ")} not ready members after ${timeoutMs} ms`,
      );
    }
    const at = performance.now() - t0;
    const [nodes] = await Promise.all([
      listNodes(via),
      ...missing().filter((h) => !healthAt.has(h.name)).map(async (h) => {
        if (await isReady(h)) healthAt.set(h.name, at);
      }),
    ]);
    for (const n of nodes) {
      if (n.state === "ready" && !listedAt.has(n.name)) listedAt.set(n.name, at);
      if (!roles.has(n.name) && healthAt.has(n.name) && listedAt.has(n.name)) {
        roles.set(n.name, n.role);
      }
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const ms = new Map(
    hosts.map((h) => [h.name, Math.max(healthAt.get(h.name)!, listedAt.get(h.name)!)]),
  );
  return { ms, roles };
}

/**
 * Waits until `via` lists exactly `names`, all ready, with the voters fossora keeps for that
 * many nodes and no learner: the cluster has finished reshaping itself after joins. Returns the
 * roles, or a string saying what was still off at `timeoutMs`.
 */
export async function waitSettled(
  via: Host,
  names: string[],
  timeoutMs: number,
): Promise<Map<string, string> | string> {
  const want = expectedVoters(names.length);
  const deadline = performance.now() + timeoutMs;
  let off = "";
  for (;;) {
    const nodes = await listNodes(via);
    const listed = new Set(nodes.map((n) => n.name));
    const voters = nodes.filter((n) => n.role === "voter").length;
    const notReady = nodes.filter((n) => n.state !== "ready").map((n) => `${n.name} ${n.state}`);
    if (nodes.length === 0) off = `${via.name} does not answer`;
    else if (names.some((n) => !listed.has(n)) || listed.size !== names.length) {
      off = `${listed.size} nodes listed, ${names.length} expected`;
    } else if (notReady.length) off = `not ready: ${notReady.join(", ")}`;
    else if (voters !== want || nodes.some((n) => n.role === "learner")) {
      off = `${voters} voters (want ${want})`;
    } else return new Map(nodes.map((n) => [n.name, n.role]));
    if (performance.now() > deadline) return off;
    await new Promise((r) => setTimeout(r, 250));
  }
}
