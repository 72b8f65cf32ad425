/**
 * Services of a stack that share a volume (compose's Nextcloud app, cron and web on one
 * `nextcloud` volume) see the same files only on one node, since a volume is a node's. So they
 * run together, on a node every one of them may run on: where the first of them (by name) that
 * runs on such a node is, else on any such node. When their node dies, the first one placed
 * again decides, and the rest follow within the same scheduling step.
 * @module
 */
import type { NodeRecord, ServiceSpec } from "../state/types.ts";

/** Services that share volumes, directly or through another one, sorted by name. */
export interface VolumeGroup {
  members: ServiceSpec[];
  /** The volume named in explanations: the first shared one of the service asked about. */
  volume: string;
}

/** Why a service may not run on a node by the other filters, or undefined. */
export type Fits = (spec: ServiceSpec, node: NodeRecord) => string | undefined;

/** The groups of services that share volumes. */
export class VolumeGroups {
  readonly #groups = new Map<string, ServiceSpec[]>();

  constructor(specs: readonly ServiceSpec[]) {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let root = x;
      while (parent.get(root) !== root) root = parent.get(root)!;
      return root;
    };
    const byVolume = new Map<string, string>();
    const byName = new Map<string, ServiceSpec>();
    for (const spec of specs) {
      if (!spec.stack || !spec.volumes.some((v) => v.shared)) continue;
      byName.set(spec.name, spec);
      parent.set(spec.name, spec.name);
      for (const v of spec.volumes) {
        if (!v.shared) continue;
        const key = `${spec.stack}/${v.name}`;
        const other = byVolume.get(key);
        if (other === undefined) byVolume.set(key, spec.name);
        else parent.set(find(spec.name), find(other));
      }
    }
    const members = new Map<string, ServiceSpec[]>();
    for (const name of parent.keys()) {
      const root = find(name);
      members.set(root, [...(members.get(root) ?? []), byName.get(name)!]);
    }
    for (const list of members.values()) {
      if (list.length < 2) continue;
      list.sort((a, b) => a.name.localeCompare(b.name));
      for (const s of list) this.#groups.set(s.name, list);
    }
  }

  /** The group of `spec`, when it shares a volume with another service. */
  of(spec: ServiceSpec): VolumeGroup | undefined {
    const members = this.#groups.get(spec.name);
    const volume = spec.volumes.find((v) => v.shared)?.name;
    return members && volume ? { members, volume } : undefined;
  }
}

/**
 * Where the group runs: the first member (by name) on a ready node (`nodeOf`) that every member
 * may run on; undefined when none is.
 */
export function groupAnchor(
  group: VolumeGroup,
  nodeOf: (service: string) => NodeRecord | undefined,
  fits: Fits,
): { service: string; node: NodeRecord } | undefined {
  for (const m of group.members) {
    const node = nodeOf(m.name);
    if (node && group.members.every((o) => fits(o, node) === undefined)) {
      return { service: m.name, node };
    }
  }
  return undefined;
}

/** Why `node` may not run `spec` because of the volumes it shares, or undefined. */
export function groupRejection(
  spec: ServiceSpec,
  node: NodeRecord,
  group: VolumeGroup,
  nodeOf: (service: string) => NodeRecord | undefined,
  fits: Fits,
): string | undefined {
  const anchor = groupAnchor(group, nodeOf, fits);
  if (anchor) {
    return anchor.node.id === node.id ? undefined : `${node.name} is not ${anchor.node.name}, ` +
      `where ${anchor.service} runs with the volume ${group.volume} they share`;
  }
  for (const m of group.members) {
    if (m.name === spec.name) continue;
    const why = fits(m, node);
    if (why) {
      return `${node.name} cannot run ${m.name}, which shares the volume ${group.volume}: ${why}`;
    }
  }
  return undefined;
}
