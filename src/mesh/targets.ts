/**
 * What the stack mesh serves, as pure functions of the cluster view: the virtual address and
 * ports of every service of a stack, the `/etc/hosts` lines of a stack's containers, and where a
 * connection to a service goes (a replica on this node directly, one elsewhere through its
 * node's tunnel).
 * @module
 */
import { orderBackends, type TcpBackend } from "../proxy/tcp.ts";
import type { NodeRecord, ReplicaStatus, ServiceRecord } from "../state/types.ts";
import { virtualAddress } from "./address.ts";

/** One listener: a service's port on its virtual address, for the containers of its stack. */
export interface MeshPort {
  stack: string;
  /** The service's full name, `SERVICE.STACK`. */
  service: string;
  address: string;
  port: number;
  protocol: "tcp" | "udp";
}

/** A replica a connection can go to. */
export interface MeshBackend extends TcpBackend {
  /** The node that runs it. */
  node: string;
  /** On this node: `host:port` is the container; elsewhere, its node's tunnel. */
  local: boolean;
  /** The container's address on its stack's network. */
  container: string;
}

/** The compose name of a service of a stack: `db` for `db.shop`. */
export function composeName(service: string): string {
  const dot = service.indexOf(".");
  return dot < 0 ? service : service.slice(0, dot);
}

/**
 * The ports a stack's containers reach `service` on, ascending: for TCP its spec's TCP container
 * ports and the ports its containers expose (the image's EXPOSE), for UDP its spec's UDP ports.
 */
export function servicePorts(
  service: ServiceRecord,
  replicas: ReplicaStatus[],
  protocol: "tcp" | "udp" = "tcp",
): number[] {
  const ports = new Set<number>();
  for (const p of service.spec.ports) {
    if ((p.protocol ?? "tcp") === protocol) ports.add(p.container);
  }
  if (protocol === "tcp") {
    for (const r of replicas) {
      for (const p of r.exposed ?? []) ports.add(p);
    }
  }
  return [...ports].filter((p) => Number.isInteger(p) && p > 0 && p < 65536).sort((a, b) => a - b);
}

/** The services of `stack`, in name order. */
export function stackServices(services: ServiceRecord[], stack: string): ServiceRecord[] {
  return services.filter((s) => s.spec.stack === stack)
    .sort((a, b) => a.spec.name.localeCompare(b.spec.name));
}

/**
 * The `/etc/hosts` lines (`db:198.18.x.y`) of a stack's containers: one per name of each
 * service, its compose name and its aliases (the compose key when it is not a DNS label,
 * network aliases).
 */
export function hostsLines(services: ServiceRecord[], stack: string): string[] {
  return stackServices(services, stack).flatMap((s) => {
    const address = virtualAddress(s.spec.name);
    return serviceNames(s).map((name) => `${name}:${address}`);
  });
}

/** The names a stack's containers reach a service of the stack by: compose name and aliases. */
export function serviceNames(s: ServiceRecord): string[] {
  return [...new Set([composeName(s.spec.name), ...s.spec.aliases ?? []])];
}

/** Every listener of the stacks in `stacks`, by service and port. */
export function meshPorts(
  services: ServiceRecord[],
  replicasOf: (service: string) => ReplicaStatus[],
  stacks: ReadonlySet<string>,
): MeshPort[] {
  const out: MeshPort[] = [];
  for (const s of services) {
    const stack = s.spec.stack;
    if (!stack || !stacks.has(stack)) continue;
    const address = virtualAddress(s.spec.name);
    for (const protocol of ["tcp", "udp"] as const) {
      for (const port of servicePorts(s, replicasOf(s.spec.name), protocol)) {
        out.push({ stack, service: s.spec.name, address, port, protocol });
      }
    }
  }
  return out;
}

/**
 * The ready replicas of a service that can take a connection to `port`: those on this node
 * (`self`) at their container, the others through their node's tunnel (a node without one, an
 * agent from before it, is left out).
 */
export function meshBackends(
  replicas: ReplicaStatus[],
  port: number,
  self: string,
  node: (id: string) => NodeRecord | undefined,
): MeshBackend[] {
  const out: MeshBackend[] = [];
  for (const r of replicas) {
    if (!r.ready || !r.stackAddress) continue;
    const key = `${r.node}/${r.stackAddress}:${port}`;
    if (r.node === self) {
      out.push({
        key,
        node: r.node,
        local: true,
        container: r.stackAddress,
        host: r.stackAddress,
        port,
      });
      continue;
    }
    const n = node(r.node);
    if (!n?.meshPort) continue;
    out.push({
      key,
      node: r.node,
      local: false,
      container: r.stackAddress,
      host: n.address,
      port: n.meshPort,
    });
  }
  return out;
}

/**
 * The backends to try, in order: this node's replicas first (no hop across the network), each
 * group round-robin from `start` (see {@link orderBackends}); those marked out go last, still
 * tried when nothing else answers.
 */
export function orderMeshBackends(
  backends: MeshBackend[],
  start: number,
  isOut: (b: MeshBackend) => boolean,
): MeshBackend[] {
  const never = () => false;
  const all = [
    ...orderBackends(backends.filter((b) => b.local), start, never),
    ...orderBackends(backends.filter((b) => !b.local), start, never),
  ] as MeshBackend[];
  const out = all.filter(isOut);
  return out.length === 0 ? all : [...all.filter((b) => !isOut(b)), ...out];
}
