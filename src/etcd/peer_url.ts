/**
 * Keeps this member's advertised peer URL in etcd's member list in step with its flags.
 * @module
 */
import type { Etcd3 } from "etcd3";

/**
 * etcd reads `--initial-advertise-peer-urls` only when it creates its data directory, so a
 * member that moved from http to https (or to a new address) still advertises the old URL and
 * joiners could not reach it. Call after start; returns true when the list was corrected.
 */
export async function updatePeerUrl(
  client: Etcd3,
  name: string,
  peerUrl: string,
): Promise<boolean> {
  const { members } = await client.cluster.memberList({});
  const me = members.find((m) => m.name === name);
  if (!me) {
    throw new Error(`etcd has no member named ${name}: check --name against DATA_DIR/etcd`);
  }
  if (me.peerURLs.length === 1 && me.peerURLs[0] === peerUrl) return false;
  await client.cluster.memberUpdate({ ID: me.ID, peerURLs: [peerUrl] });
  return true;
}

/**
 * The peer URLs of every member but `name` (learners and members not started yet included:
 * the leader sends to them too), for measuring the round trip to each.
 */
export async function otherPeerUrls(client: Etcd3, name: string): Promise<string[]> {
  const { members } = await client.cluster.memberList({});
  return members.filter((m) => m.name !== name).flatMap((m) => m.peerURLs.slice(0, 1));
}
