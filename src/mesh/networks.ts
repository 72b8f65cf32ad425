/**
 * The Docker networks of stacks on this node (`fossora-STACK`, a bridge), over dockerode:
 * made before a stack's first container here, removed once no container of the stack is left.
 * @module
 */
import Docker from "dockerode";
import { parseDockerHost, toDockerError } from "../runtime/docker.ts";
import { stackNetwork } from "../runtime/status.ts";

/** A stack's network on this node. */
export interface StackNetwork {
  stack: string;
  /** `fossora-STACK`. */
  name: string;
  /** Its IPv4 subnet, `a.b.c.d/n`: where the stack's containers' connections come from. */
  subnet: string;
  /** The node's address on it. */
  gateway: string;
}

/** The Docker operations the mesh needs for stack networks. */
export interface StackNetworks {
  /** Makes the stack's network, or finds it; rejects when Docker cannot. */
  ensure(stack: string): Promise<StackNetwork>;
  /**
   * The stack networks this node made, found in Docker (a network another node on the same
   * engine made is used, by name, but left to that node to remove).
   */
  list(): Promise<StackNetwork[]>;
  /** How many containers, running or not, are on the network. */
  containers(name: string): Promise<number>;
  /** Removes the network; a missing one is fine. */
  remove(name: string): Promise<void>;
}

/** Label on a stack network: its stack. */
export const STACK_LABEL = "fossora.stack";

interface Inspected {
  Name: string;
  Labels?: Record<string, string>;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] };
}

function toNetwork(n: Inspected): StackNetwork | undefined {
  const stack = n.Labels?.[STACK_LABEL];
  const v4 = n.IPAM?.Config?.find((c) => c.Subnet && !c.Subnet.includes(":"));
  if (!stack || !v4?.Subnet) return undefined;
  return { stack, name: n.Name, subnet: v4.Subnet, gateway: v4.Gateway ?? "" };
}

/** The real {@link StackNetworks} over the engine at `dockerHost`, for node `nodeId`. */
export function createStackNetworks(dockerHost: string, nodeId: string): StackNetworks {
  const docker = new Docker(parseDockerHost(dockerHost));
  const inspect = async (name: string) =>
    toNetwork(await docker.getNetwork(name).inspect() as Inspected);
  /**
   * Keeps one network of the name when a race (two agents on one engine) made several: the
   * first by id, and removes the others that have no container.
   */
  const dedupe = async (name: string) => {
    const rows = (await docker.listNetworks({ filters: { name: [name] } }) as (Inspected & {
      Id: string;
    })[]).filter((r) => r.Name === name).sort((a, b) => a.Id.localeCompare(b.Id));
    for (const extra of rows.slice(1)) {
      const used = await docker.listContainers({ all: true, filters: { network: [extra.Id] } });
      if (used.length === 0) await docker.getNetwork(extra.Id).remove().catch(() => {});
    }
  };
  return {
    async ensure(stack) {
      const name = stackNetwork(stack);
      const find = async () => {
        try {
          return await inspect(name);
        } catch (err) {
          const e = toDockerError(err, "docker network inspect");
          if (e.status === 404) return undefined;
          if (!/ambiguous/.test(e.message)) throw e;
          await dedupe(name);
          return await inspect(name);
        }
      };
      const found = await find();
      if (found) return found;
      try {
        await docker.createNetwork({
          Name: name,
          Driver: "bridge",
          CheckDuplicate: true,
          Labels: { "fossora.managed": "true", "fossora.node": nodeId, [STACK_LABEL]: stack },
        });
      } catch (err) {
        // Made by another node on this engine meanwhile: use it.
        if (toDockerError(err, "docker network create").status !== 409) {
          throw toDockerError(err, "docker network create");
        }
      }
      const made = await find();
      if (!made) throw new Error(`docker network ${name} has no IPv4 subnet`);
      return made;
    },
    async list() {
      try {
        const rows = await docker.listNetworks({
          filters: { label: [STACK_LABEL, `fossora.node=${nodeId}`] },
        });
        return rows.map((r) => toNetwork(r as Inspected)).filter((n): n is StackNetwork => !!n);
      } catch (err) {
        throw toDockerError(err, "docker network ls");
      }
    },
    async containers(name) {
      try {
        const rows = await docker.listContainers({ all: true, filters: { network: [name] } });
        return rows.length;
      } catch (err) {
        throw toDockerError(err, "docker ps");
      }
    },
    async remove(name) {
      try {
        await docker.getNetwork(name).remove();
      } catch (err) {
        if (toDockerError(err, "docker network rm").status !== 404) {
          throw toDockerError(err, "docker network rm");
        }
      }
    },
  };
}
