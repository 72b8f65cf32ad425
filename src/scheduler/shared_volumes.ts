/**
 * Services of a stack that share a volume (compose's Nextcloud app, cron and web on one
 * `nextcloud` volume) see the same files only on one node, since a volume is a node's. So they
 * run together: the first of them by name that runs on a ready node is the anchor, and the
 * others go where it is. When the anchor's node dies, the next one placed becomes the anchor,
 * and the rest follow it within the same scheduling step.
 * @module
 */
import type { NodeRecord, ServiceSpec } from "../state/types.ts";

/** Where a service must run because of a volume it shares, and with whom. */
export interface VolumeAnchor {
  service: string;
  node: NodeRecord;
  volume: string;
}

/** The groups of services that share volumes, directly or through another service. */
export class VolumeGroups {
  /** Service -> the names of its group, sorted (itself included). */
  readonly #groups = new Map<string, string[]>();
  readonly #shared = new Map<string, string>();

  constructor(specs: readonly ServiceSpec[]) {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let root = x;
      while (parent.get(root) !== root) root = parent.get(root)!;
      return root;
    };
    const byVolume = new Map<string, string>();
    for (const spec of specs) {
      const volume = spec.stack && spec.volumes.find((v) => v.shared)?.name;
      if (!volume) continue;
      this.#shared.set(spec.name, volume);
      parent.set(spec.name, spec.name);
      for (const v of spec.volumes) {
        if (!v.shared) continue;
        const key = `${spec.stack}/${v.name}`;
        const other = byVolume.get(key);
        if (other === undefined) byVolume.set(key, spec.name);
        else parent.set(find(spec.name), find(other));
      }
    }
    const members = new Map<string, string[]>();
    for (const name of parent.keys()) {
      const root = find(name);
      members.set(root, [...(members.get(root) ?? []), name]);
    }
    for (const list of members.values()) {
      list.sort();
      for (const name of list) this.#groups.set(name, list);
    }
  }

  /**
   * Where `spec` must run: the node of the first service of its group (by name) that runs on a
   * ready node, unless that is `spec` itself or none does (then anywhere).
   */
  anchor(
    spec: ServiceSpec,
    nodeOf: (service: string) => string | undefined,
    ready: ReadonlyMap<string, NodeRecord>,
  ): VolumeAnchor | undefined {
    const group = this.#groups.get(spec.name);
    if (!group || group.length < 2) return undefined;
    for (const service of group) {
      const id = nodeOf(service);
      const node = id === undefined ? undefined : ready.get(id);
      if (!node) continue;
      if (service === spec.name) return undefined;
      return { service, node, volume: this.#shared.get(spec.name)! };
    }
    return undefined;
  }
}
