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

/** The agent's flag that moves each of its ports, by the names `reserved` gives them. */
const AGENT_PORT_FLAGS: Record<string, string> = {
  "etcd peer": "--etcd-peer-port",
  "etcd client": "--etcd-client-port",
  DNS: "--dns-port",
  proxy: "--http-port",
  "HTTPS proxy": "--https-port",
  API: "--api-port",
  heartbeat: "--api-port",
};

/**
 * The ports a host-network service of `specs` can never listen on, because every node has them
 * taken: a port published through the routing mesh (by any service), or one of the agent's own
 * (`reserved` TCP, `reservedUdp` UDP); and the published ports of `specs` that an existing
 * host-network service listens on in its nodes' network. Docker would start such a container,
 * and the program in it would fail to bind, again and again.
 */
export function hostPortConflicts(
  specs: ServiceSpec[],
  existing: ServiceRecord[],
  reserved: ReadonlyMap<number, string>,
  reservedUdp: ReadonlyMap<number, string> = new Map(),
): Problem[] {
  const names = new Set(specs.map((s) => s.name));
  const all = [...existing.filter((r) => !names.has(r.spec.name)).map((r) => r.spec), ...specs];
  const published = new Map<string, string>();
  const hostHeld = new Map<string, string>();
  for (const s of all) {
    for (const p of s.ports) {
      if (p.published !== undefined && !published.has(publishedKey(p))) {
        published.set(publishedKey(p), s.name);
      }
      const key = publishedKey({ published: p.container, protocol: p.protocol });
      if (s.hostNetwork && !names.has(s.name) && !hostHeld.has(key)) hostHeld.set(key, s.name);
    }
  }
  const problems: Problem[] = [];
  specs.forEach((spec, i) =>
    spec.ports.forEach((p, j) => {
      const at = `${specs.length > 1 ? `[${i}].` : ""}ports[${j}]`;
      const what = `${p.protocol === "udp" ? "UDP port" : "port"}`;
      const mine = publishedKey({ published: p.container, protocol: p.protocol });
      const publisher = published.get(mine);
      const agent = (p.protocol === "udp" ? reservedUdp : reserved).get(p.container);
      // This very port published under its own number is the within-service check's
      // (validate.ts); another port of the service published as this number is a conflict here.
      if (spec.hostNetwork && agent) {
        problems.push({
          path: `${at}.container`,
          message: `${what} ${p.container} is fossora's ${agent} port on every node, so a ` +
            "container in the node's network cannot listen on it: have the program listen on " +
            `another port and list that one, or move fossora's ${agent} (${
              AGENT_PORT_FLAGS[agent] ?? "its port flag"
            }) on every node`,
        });
      } else if (
        spec.hostNetwork && publisher && !(publisher === spec.name && p.published === p.container)
      ) {
        problems.push({
          path: `${at}.container`,
          message: `${what} ${p.container} is published by service ${publisher}, and the ` +
            "routing mesh listens on it on every node, so a container in the node's network " +
            `cannot: have the program listen on another port, or publish ${publisher} on another`,
        });
      }
      const holder = p.published !== undefined ? hostHeld.get(publishedKey(p)) : undefined;
      if (holder) {
        problems.push({
          path: `${at}.published`,
          message: `${what} ${p.published} is taken by service ${holder}, which runs in its ` +
            "nodes' network (host networking) and listens on it; pick another port",
        });
      }
    })
  );
  return problems;
}
