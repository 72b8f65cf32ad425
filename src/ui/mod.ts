/**
 * The web UI, served by every node on the API port: first run, login, and the cluster's pages,
 * rendered on the server from the node's view of the cluster.
 * @module
 */
export { type AdminRecord, type AdminStore, createUi, type UiDeps } from "./app.tsx";
export { setupCode } from "./setup_code.ts";
