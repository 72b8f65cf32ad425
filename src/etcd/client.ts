/**
 * The etcd client of the agent.
 * @module
 */
import { Etcd3 } from "etcd3";

/** Creates a client for the given client URLs; it reconnects by itself. */
export function connectEtcd(urls: string[]): Etcd3 {
  return new Etcd3({ hosts: urls, dialTimeout: 3000 });
}
