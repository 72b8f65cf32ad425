/**
 * etcd's member list as admission needs it: list, add a learner, promote, remove. A small
 * interface so the leader's driver is tested on a real cluster and its step without one.
 * @module
 */
import type { Etcd3 } from "etcd3";
import type { Member } from "./types.ts";

/** etcd membership calls. */
export interface Membership {
  list(): Promise<Member[]>;
  /** Adds a learner; answers its id and the member list to start it with. */
  addLearner(peerUrl: string): Promise<{ id: string; members: Member[] }>;
  /** Promotes a learner; "not-ready" while it has not caught up with the leader. */
  promote(id: string): Promise<"promoted" | "not-ready">;
  /** Removes a member; a member already gone is not an error. */
  remove(id: string): Promise<void>;
}

interface RawMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner?: boolean;
}

function member(m: RawMember): Member {
  return {
    id: BigInt(m.ID).toString(16),
    name: m.name,
    peerUrls: m.peerURLs,
    clientUrls: m.clientURLs,
    isLearner: m.isLearner ?? false,
  };
}

/** The calls on a real etcd, through npm:etcd3's cluster API (ids as decimal strings there). */
export function etcdMembership(client: Etcd3): Membership {
  const raw = (id: string) => BigInt(`0x${id}`).toString();
  return {
    async list() {
      const { members } = await client.cluster.memberList({});
      return (members as RawMember[]).map(member);
    },
    async addLearner(peerUrl) {
      const res = await client.cluster.memberAdd({ peerURLs: [peerUrl], isLearner: true });
      return {
        id: member(res.member as RawMember).id,
        members: (res.members as RawMember[]).map(member),
      };
    },
    async promote(id) {
      try {
        await client.cluster.memberPromote({ ID: raw(id) });
        return "promoted";
      } catch (err) {
        if (/in sync with leader|not ready|learner/i.test(String(err))) return "not-ready";
        throw err;
      }
    },
    async remove(id) {
      try {
        await client.cluster.memberRemove({ ID: raw(id) });
      } catch (err) {
        if (!/member not found/i.test(String(err))) throw err;
      }
    },
  };
}

/**
 * etcd's `--initial-cluster` for a member joining as `name` at `peerUrl`: every member's name and
 * peer URLs (the new one has no name until it starts, so it is named here).
 */
export function initialCluster(members: readonly Member[], name: string, peerUrl: string): string {
  return members.flatMap((m) => {
    const n = m.peerUrls.includes(peerUrl) ? name : m.name;
    return n ? m.peerUrls.map((u) => `${n}=${u}`) : [];
  }).join(",");
}
