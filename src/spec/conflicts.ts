/**
 * Checks a set of specs against the services already in the cluster: a published port belongs to
 * one service only, and never to a port the agent itself listens on.
 * @module
 */
import type { ServiceRecord, ServiceSpec } from "../state/types.ts";
import type { Problem } from "./problems.ts";

/**
 * The published ports of `specs` that another service (not among `specs`) already publishes with
 * the same protocol, or that the agent reserves for itself (`reserved` TCP, `reservedUdp` UDP).
 */
export function publishedPortConflicts(
  specs: ServiceSpec[],
  existing: ServiceRecord[],
  reserved: ReadonlyMap<number, string>,
  reservedUdp: ReadonlyMap<number, string> = new Map(),
): Problem[] {
  const names = new Set(specs.map((s) => s.name));
  const owners = new Map<string, string>();
  for (const r of existing) {
    if (names.has(r.spec.name)) continue;
    for (const p of r.spec.ports) {
      if (p.published !== undefined) owners.set(publishedKey(p), r.spec.name);
    }
  }
  const problems: Problem[] = [];
  specs.forEach((spec, i) =>
    spec.ports.forEach((p, j) => {
      if (p.published === undefined) return;
      const path = `${specs.length > 1 ? `[${i}].` : ""}ports[${j}].published`;
      const owner = owners.get(publishedKey(p));
      const agent = (p.protocol === "udp" ? reservedUdp : reserved).get(p.published);
      const what = `${p.protocol === "udp" ? "UDP port" : "port"} ${p.published}`;
      if (owner) {
        problems.push({
          path,
          message: `${what} is already published by service ${owner}; pick another port`,
        });
      } else if (agent) {
        problems.push({
          path,
          message: `${what} is the agent's ${agent} port; pick another port`,
        });
      }
    })
  );
  return problems;
}

/** A published port with its protocol: TCP 53 and UDP 53 are two ports. */
export function publishedKey(p: { published?: number; protocol?: "udp" }): string {
  return `${p.published}/${p.protocol ?? "tcp"}`;
}
