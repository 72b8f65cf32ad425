/**
 * This node's etcd member (a supervised child process) and the client that talks to it.
 * @module
 */
export { type EtcdOptions, EtcdSupervisor, splitLines } from "./supervisor.ts";
export { connectEtcd } from "./client.ts";
