/**
 * Ends a node's liveness at once, for a node its peers found dead: the lease of its node record
 * and replica statuses, and those of its election keys, are revoked, so the node drops out (its
 * replicas are moved, a role it held is free) without waiting for the leases to run out. The
 * lease of its locks is left alone: a node that is cut off, not dead, still runs its services
 * with volumes until it stops them itself, and they must not start anywhere else before that.
 * @module
 */
import { families, keyOf, ROOT } from "./keys.ts";
import type { Store } from "./store.ts";

/**
 * How long one revoke may take. A verdict is only as good as the moment it was made: a revoke
 * still pending seconds later (etcd unreachable) must fail, not land on a node that lived on.
 */
export const REVOKE_TIMEOUT_MS = 3000;

/**
 * Revokes the liveness leases of node `id`; resolves to how many were revoked (0 when they had
 * already expired). A node that was alive after all takes a new lease and writes its records
 * again, as after any lost lease.
 */
export async function revokeLiveness(
  store: Store,
  id: string,
  timeoutMs = REVOKE_TIMEOUT_MS,
): Promise<number> {
  const client = store.client;
  const leases = new Set<string>();
  const [record, elections] = await Promise.all([
    client.get(keyOf(families.nodes, id)).exec(),
    client.getAll().prefix(`${ROOT}election/`).exec(),
  ]);
  for (const kv of record.kvs) leases.add(String(kv.lease));
  for (const kv of elections.kvs) if (kv.value.toString() === id) leases.add(String(kv.lease));
  leases.delete("0");
  let revoked = 0;
  for (const lease of leases) {
    try {
      await client.leaseClient.leaseRevoke({ ID: lease }, {
        deadline: new Date(Date.now() + timeoutMs),
      });
      revoked++;
    } catch (err) {
      // Expired meanwhile: as good as revoked.
      if (!/requested lease not found/.test(String((err as Error).message))) throw err;
    }
  }
  return revoked;
}
