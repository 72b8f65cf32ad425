/**
 * The web UI, served by every node on the API port: first run, login, and the cluster's pages
 * (overview, services, deploy, app catalog, nodes), rendered on the server from answers of the
 * node's own API, and kept current by server-sent events.
 * @module
 */
export { type AdminRecord, type AdminStore, createUi, type UiApp, type UiDeps } from "./app.tsx";
export { setupCode } from "./setup_code.ts";
export { type Catalog, loadCatalog } from "./catalog.ts";
