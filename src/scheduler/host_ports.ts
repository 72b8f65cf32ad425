/**
 * Who holds which port in a node's network, for services with host networking (their container
 * ports are the node's ports): fossora itself (the ports in the node's record and its member
 * record), the routing mesh (every node listens on every published port), and the host-network
 * replicas placed on the node.
 * @module
 */
import { type MemberRecord, type NodeRecord, portKey, type ServiceSpec } from "../state/types.ts";

/** "port 80", "UDP port 53", of a {@link portKey}. */
export function portName(key: string): string {
  return key.endsWith("/udp") ? `UDP port ${key.slice(0, -4)}` : `port ${key}`;
}

/**
 * fossora's own ports on a node, keyed by {@link portKey}, each with what listens there:
 * from its record (API, proxy, DNS, heartbeats) and its member record (etcd).
 */
export function agentPorts(
  node: NodeRecord,
  member?: Pick<MemberRecord, "etcdPeerPort" | "etcdClientPort">,
): Map<string, string> {
  const tcp: [number | undefined, string][] = [
    [node.apiPort, "API"],
    [node.apiTlsPort, "API (TLS)"],
    [node.httpPort, "proxy"],
    [node.httpsPort, "HTTPS proxy"],
    [node.dnsPort, "DNS"],
    [member?.etcdPeerPort, "etcd peer"],
    [member?.etcdClientPort, "etcd client"],
  ];
  const udp: [number | undefined, string][] = [[node.dnsPort, "DNS"], [node.apiPort, "heartbeats"]];
  const out = new Map<string, string>();
  const add = (list: [number | undefined, string][], protocol?: "udp") => {
    for (const [port, what] of list) {
      const key = port ? portKey({ container: port, protocol }) : undefined;
      if (key && !out.has(key)) out.set(key, `fossora's ${what}`);
    }
  };
  add(tcp);
  add(udp, "udp");
  return out;
}

/** The routing mesh's ports (every service's published ports), each with its service's name. */
export function meshPorts(specs: ServiceSpec[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of specs) {
    for (const p of s.ports) {
      if (p.published === undefined) continue;
      const key = portKey({ container: p.published, protocol: p.protocol });
      if (!out.has(key)) out.set(key, s.name);
    }
  }
  return out;
}

/** A replica of a service on a node: an assignment, or a replica's status. */
export interface Placed {
  service: string;
  node: string;
}

/** The ports of one cluster's nodes; see the module's documentation. */
export class HostPorts {
  readonly #specs: Map<string, ServiceSpec>;
  readonly #mesh: Map<string, string>;
  readonly #members: Map<string, MemberRecord>;
  /** Node id -> port key -> the host-network service whose replica holds it. */
  readonly #held = new Map<string, Map<string, string>>();
  /** Node id -> fossora's ports there, as {@link agentPorts} gives them. */
  readonly #agent = new Map<string, Map<string, string>>();
  /** Node id -> services with a replica there. */
  readonly #runs = new Map<string, Set<string>>();

  constructor(specs: ServiceSpec[], placed: Placed[], members: MemberRecord[] = []) {
    this.#specs = new Map(specs.map((s) => [s.name, s]));
    this.#mesh = meshPorts(specs);
    this.#members = new Map(members.map((m) => [m.id, m]));
    for (const p of placed) this.add(p.service, p.node);
  }

  /** A replica of `service` is (now) on `node`: a host-network one holds its ports there. */
  add(service: string, node: string): void {
    const runs = this.#runs.get(node) ?? new Set();
    runs.add(service);
    this.#runs.set(node, runs);
    const spec = this.#specs.get(service);
    if (!spec?.hostNetwork) return;
    const held = this.#held.get(node) ?? new Map<string, string>();
    for (const p of spec.ports) {
      const key = portKey(p);
      if (!held.has(key)) held.set(key, service);
    }
    this.#held.set(node, held);
  }

  /** True when `node` runs a replica of `service`. */
  runs(node: string, service: string): boolean {
    return this.#runs.get(node)?.has(service) ?? false;
  }

  /**
   * Who holds port `key` in `node`'s network besides `service`'s own replicas: fossora, the
   * routing mesh (also for `service`'s own published port: every node listens on it), or (with
   * `placedToo`) another host-network service's replica there; undefined when nobody does.
   */
  holder(node: NodeRecord, key: string, service: string, placedToo = true): string | undefined {
    let agent = this.#agent.get(node.id);
    if (!agent) this.#agent.set(node.id, agent = agentPorts(node, this.#members.get(node.id)));
    const own = agent.get(key);
    if (own) return own;
    const mesh = this.#mesh.get(key);
    if (mesh) return `the routing mesh (published by service ${mesh})`;
    const other = placedToo ? this.#held.get(node.id)?.get(key) : undefined;
    return other && other !== service ? `service ${other} (host networking)` : undefined;
  }
}
