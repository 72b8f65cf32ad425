/**
 * Placement as a chain of small filters, after swarmkit's: each has a name and says why it
 * rejects a node, so a service that cannot be placed, or a replica that moves, tells the user
 * what is missing.
 * @module
 */
import {
  type Constraint,
  type NodeRecord,
  portKey,
  type Resources,
  type ServiceSpec,
} from "../state/types.ts";
import { portName } from "./host_ports.ts";
import { linuxArches } from "./platforms.ts";
import { type Fits, groupAnchor, groupRejection, type VolumeGroup } from "./shared_volumes.ts";

/** What the filters know beyond the service and the node. */
export interface NodeFacts {
  /** True while a person has drained the node (by id). */
  drained(node: string): boolean;
  /** What the node has left for one more replica; undefined when unknown (no check). */
  left?(node: NodeRecord): Resources | undefined;
  /** The platforms an image is built for (`linux/arm64`); undefined when unknown (no check). */
  platforms?(image: string): string[] | undefined;
  /** True while the image's platforms are being looked up for the first time. */
  platformsPending?(image: string): boolean;
  /**
   * For host networking: who holds port `key` ({@link portKey}) in the node's network besides
   * `service`'s own replicas (fossora, the routing mesh, another host-network service), or
   * undefined when nobody does or it is unknown (no check).
   */
  portHolder?(node: NodeRecord, key: string, service: string): string | undefined;
  /**
   * The services `spec` shares volumes with (shared_volumes.ts), and the ready node each runs
   * on; undefined when it shares none.
   */
  volumeGroup?(spec: ServiceSpec): {
    group: VolumeGroup;
    nodeOf: (service: string) => NodeRecord | undefined;
  } | undefined;
  /** True when the node runs a replica of `service` already; undefined: no check. */
  runsReplica?(node: NodeRecord, service: string): boolean;
  /**
   * The question is whether a placed replica may stay: what the node has not reported yet (its
   * host paths, just after its agent restarted) does not move it.
   */
  staying?: boolean;
}

/** No node drained. */
export const NO_FACTS: NodeFacts = { drained: () => false };

/** One placement rule. */
export interface Filter {
  name: string;
  /** Why `node` may not run the service ("node2 is drained"), or undefined when it may. */
  rejects(spec: ServiceSpec, node: NodeRecord, facts: NodeFacts): string | undefined;
  /** Why no node passed, for the user. */
  explain(spec: ServiceSpec, facts: NodeFacts): string;
}

/** The architectures the service's image runs on; undefined when unknown or any. */
function imageArches(spec: ServiceSpec, facts: NodeFacts): string[] | undefined {
  const platforms = facts.platforms?.(spec.image);
  const arches = platforms && linuxArches(platforms);
  return arches?.length ? arches : undefined;
}

/** The architecture of the service's `container.platform` (`linux/arm/v7` → arm), if any. */
function platformArch(spec: ServiceSpec): string | undefined {
  return spec.container?.platform?.split("/")[1];
}

function list(values: string[] | undefined): string {
  return values?.join(" or ") ?? "";
}

/** "1.5 CPUs and 512 MiB", of what is set. */
function amount(r: Resources): string {
  const parts = [];
  if (r.cpus !== undefined) parts.push(`${Math.max(0, Math.round(r.cpus * 100) / 100)} CPUs`);
  if (r.memory !== undefined) {
    parts.push(`${Math.max(0, Math.round(r.memory / 1024 ** 2))} MiB`);
  }
  return parts.join(" and ");
}

/** Why `node` lacks one of the host paths or devices `spec` wants, or undefined. */
function missingHostPath(
  spec: ServiceSpec,
  node: NodeRecord,
  staying: boolean,
): string | undefined {
  const wanted = [
    ...(spec.binds ?? []).map((b) => ({ path: b.source, device: false })),
    ...(spec.devices ?? []).map((d) => ({ path: d.host, device: true })),
  ];
  for (const { path, device } of wanted) {
    const kind = node.hostPaths?.[path];
    if (kind === undefined) {
      if (staying) continue;
      return `${node.name} has not reported ${path} yet`;
    }
    if (kind === "missing") return `${node.name} has no ${path}`;
    // Docker gives a directory of devices (/dev/dri) as every device in it.
    if (device && kind !== "device" && kind !== "dir") {
      return `${node.name} has ${path}, but it is not a device`;
    }
  }
  return undefined;
}

function hostPathsOf(spec: ServiceSpec): string {
  const paths = [
    ...(spec.binds ?? []).map((b) => b.source),
    ...(spec.devices ?? []).map((d) => d.host),
  ];
  return [...new Set(paths)].join(" and ");
}

/** A node's value of a Swarm constraint attribute; undefined when it has none. */
function constraintValue(node: NodeRecord, attribute: string): string | undefined {
  if (attribute === "node.hostname") return node.name;
  if (attribute === "node.id") return node.id;
  if (attribute === "node.role") return node.role === "voter" ? "manager" : "worker";
  if (attribute === "node.platform.arch") return node.arch;
  if (attribute === "node.platform.os") return "linux";
  const label = attribute.slice("node.labels.".length);
  return label === "site" ? node.labels.site ?? node.site : node.labels[label];
}

/** Swarm's arch names are uname's (x86_64, aarch64); nodes say Docker's (amd64, arm64). */
const ARCH_NAMES: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", armv7l: "arm" };

function meets(node: NodeRecord, c: Constraint): boolean {
  const have = constraintValue(node, c.attribute);
  const want = c.attribute === "node.platform.arch" ? ARCH_NAMES[c.value] ?? c.value : c.value;
  const equal = have !== undefined && have.toLowerCase() === want.toLowerCase();
  return c.op === "==" ? equal : !equal;
}

function describeConstraint(c: Constraint): string {
  return `${c.attribute} ${c.op} ${c.value}`;
}

function labelsOf(spec: ServiceSpec): string {
  return Object.entries(spec.placement.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
}

/** The filters every placement goes through, in order. */
export const FILTERS: readonly Filter[] = [
  {
    name: "ready",
    rejects: (_spec, node) => node.state === "ready" ? undefined : `${node.name} is ${node.state}`,
    explain: () => "no node is ready",
  },
  {
    name: "drained",
    rejects: (_spec, node, facts) => facts.drained(node.id) ? `${node.name} is drained` : undefined,
    explain: () => "every ready node is drained (fossora nodes undrain NAME)",
  },
  {
    name: "arch",
    rejects: (spec, node) =>
      !spec.placement.arch?.length || spec.placement.arch.includes(node.arch)
        ? undefined
        : `${node.name} is ${node.arch}, not ${list(spec.placement.arch)}`,
    explain: (spec) => `no ready node has arch ${list(spec.placement.arch)}`,
  },
  {
    name: "image",
    rejects: (spec, node, facts) => {
      const arches = imageArches(spec, facts);
      return !arches || arches.includes(node.arch)
        ? undefined
        : `${node.name} is ${node.arch}, and the image ${spec.image} is built for ${list(arches)}`;
    },
    explain: (spec, facts) =>
      `the image ${spec.image} is built for ${list(imageArches(spec, facts))} and no ready ` +
      "node is; add such a node, or use an image built for your nodes too",
  },
  {
    name: "platform",
    rejects: (spec, node) => {
      const arch = platformArch(spec);
      return !arch || arch === node.arch
        ? undefined
        : `${node.name} is ${node.arch}, and the service runs the ${spec.container?.platform} ` +
          "build of its image";
    },
    explain: (spec) =>
      `the service asks for platform ${spec.container?.platform} and no ready node is ` +
      `${platformArch(spec)}; add such a node, or remove container.platform`,
  },
  {
    name: "site",
    rejects: (spec, node) =>
      !spec.placement.sites?.length || spec.placement.sites.includes(node.site)
        ? undefined
        : `${node.name} is in site ${node.site}, not ${list(spec.placement.sites)}`,
    explain: (spec) => `no ready node is in site ${list(spec.placement.sites)}`,
  },
  {
    name: "labels",
    rejects: (spec, node) =>
      Object.entries(spec.placement.labels ?? {}).every(([k, v]) => node.labels[k] === v)
        ? undefined
        : `${node.name} lacks labels ${labelsOf(spec)}`,
    explain: (spec) => `no ready node has labels ${labelsOf(spec)}`,
  },
  {
    name: "constraints",
    rejects: (spec, node) => {
      const failed = (spec.placement.constraints ?? []).find((c) => !meets(node, c));
      return failed && `${node.name} has ${
        constraintValue(node, failed.attribute) ?? "no " +
            failed.attribute
      }, and the service wants ${describeConstraint(failed)}`;
    },
    explain: (spec) =>
      `no ready node meets ${
        (spec.placement.constraints ?? []).map(describeConstraint).join(
          " and ",
        )
      }; give a node that label (--label KEY=VALUE) or change deploy.placement.constraints`,
  },
  {
    name: "host paths",
    rejects: (spec, node, facts) => missingHostPath(spec, node, facts.staying ?? false),
    explain: (spec) =>
      `no ready node has ${hostPathsOf(spec)}; make it there (mount the disk, plug the ` +
      "device in) or change the service's binds and devices",
  },
  {
    name: "resources",
    rejects: (spec, node, facts) => {
      const ask = spec.resources;
      const left = ask && facts.left?.(node);
      if (!ask || !left) return undefined;
      const short = (ask.cpus ?? 0) > (left.cpus ?? Infinity) + 1e-9 ||
        (ask.memory ?? 0) > (left.memory ?? Infinity);
      if (!short) return undefined;
      const shown = { cpus: ask.cpus && left.cpus, memory: ask.memory && left.memory };
      return `${node.name} has ${amount(shown)} left, and a replica asks for ${amount(ask)}`;
    },
    explain: (spec) =>
      `no ready node has ${amount(spec.resources ?? {})} left for another replica; add a node, ` +
      "or ask for less (resources)",
  },
  {
    name: "host network",
    rejects: (spec, node, facts) => {
      if (!spec.hostNetwork) return undefined;
      if (facts.runsReplica?.(node, spec.name)) {
        return `${node.name} runs a replica already (host networking runs one a node)`;
      }
      for (const p of spec.ports) {
        const key = portKey(p);
        const holder = facts.portHolder?.(node, key, spec.name);
        if (holder) return `${node.name}'s ${portName(key)} is taken by ${holder}`;
      }
      return undefined;
    },
    explain: (spec) =>
      "host networking runs one replica a node" +
      (spec.ports.length
        ? `, where ${spec.ports.map((p) => portName(portKey(p))).join(", ")} must be free`
        : "") +
      ", and no other ready node can take one; add a node, or lower replicas",
  },
  {
    name: "shared volume",
    rejects: (spec, node, facts) => {
      const g = facts.volumeGroup?.(spec);
      return g && groupRejection(spec, node, g.group, g.nodeOf, memberFits(facts));
    },
    explain: (spec, facts) => {
      const g = facts.volumeGroup?.(spec);
      const volume = g?.group.volume;
      const anchor = g && groupAnchor(g.group, g.nodeOf, memberFits(facts));
      if (anchor) {
        const why = rejection(spec, anchor.node, { ...facts, volumeGroup: undefined });
        return `${spec.name} shares the volume ${volume} with ${anchor.service}, so it runs ` +
          `on ${anchor.node.name} too, and ${why ?? `${anchor.node.name} cannot take it`}; ` +
          "make room there, or give the services volumes of their own";
      }
      const others = g?.group.members.filter((m) => m.name !== spec.name).map((m) => m.name);
      return `${spec.name} shares the volume ${volume} with ${others?.join(", ")}, so they run ` +
        "on one node, and no ready node can run them all; give the services volumes of their " +
        "own, or loosen what they ask for";
    },
  },
];

/**
 * Whether a member of a volume group may run on a node, the same for every member asking: its
 * resources and unreported host paths aside (a placed member has its share already).
 */
function memberFits(facts: NodeFacts): Fits {
  const f: NodeFacts = {
    ...facts,
    volumeGroup: undefined,
    left: undefined,
    runsReplica: undefined,
    staying: true,
  };
  return (spec, node) => rejection(spec, node, f);
}

/** Why `node` may not run the service (the first filter that rejects it), or undefined. */
export function rejection(
  spec: ServiceSpec,
  node: NodeRecord,
  facts: NodeFacts = NO_FACTS,
): string | undefined {
  for (const f of FILTERS) {
    const why = f.rejects(spec, node, facts);
    if (why) return why;
  }
  return undefined;
}

/** The nodes that pass every filter, or the explanation of the first filter that left none. */
export function eligibleNodes(
  spec: ServiceSpec,
  nodes: NodeRecord[],
  facts: NodeFacts = NO_FACTS,
): { nodes: NodeRecord[]; reason?: string } {
  let left = nodes;
  for (const f of FILTERS) {
    const next = left.filter((n) => f.rejects(spec, n, facts) === undefined);
    if (next.length === 0) return { nodes: [], reason: f.explain(spec, facts) };
    left = next;
  }
  return { nodes: left };
}
