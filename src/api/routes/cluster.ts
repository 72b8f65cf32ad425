/**
 * Routes about the cluster and this node: health, the CA certificate, cluster, nodes, token,
 * join, metrics.
 * @module
 */
import type { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { summarizeCluster, summarizeNodes } from "../summary.ts";
import type { ApiDeps } from "../types.ts";

/** Adds the cluster routes to `app`. */
export function addClusterRoutes(app: Hono, deps: ApiDeps): void {
  const controlPlane = () => {
    const cp = deps.controlPlane?.();
    if (!cp) {
      throw new ApiError(503, "starting", "the agent is still starting; try again in a moment");
    }
    return cp;
  };
  app.get("/api/v1/health", (c) => {
    const ready = deps.ready();
    return c.json({ ready, node: deps.nodeName }, ready ? 200 : 503);
  });
  app.get("/api/v1/ca.crt", () => {
    const pem = deps.caCertificate?.();
    if (!pem) {
      throw new ApiError(503, "no_ca", "the cluster CA is not known yet; try again in a moment");
    }
    // The type phones and browsers offer to install as a certificate authority.
    return new Response(pem, {
      headers: {
        "content-type": "application/x-x509-ca-cert",
        "content-disposition": 'attachment; filename="fossora-ca.crt"',
      },
    });
  });
  app.get("/api/v1/cluster", (c) =>
    c.json(summarizeCluster(deps.view, {
      nodeId: deps.nodeId,
      nodeName: deps.nodeName,
      domain: deps.domain,
      version: deps.version,
      leader: deps.leader(),
      warnings: deps.warnings?.(),
    })));
  app.get("/api/v1/nodes", (c) => c.json({ nodes: summarizeNodes(deps.view) }));
  app.delete(
    "/api/v1/nodes/:name",
    async (c) => c.json(await controlPlane().removeNode(c.req.param("name"))),
  );
  app.post("/api/v1/leave", async (c) => c.json(await controlPlane().leave()));
  app.post("/api/v1/nodes/:name/leave", async (c) => {
    const name = c.req.param("name");
    const cp = controlPlane();
    return c.json(name === deps.nodeName ? await cp.leave() : await cp.leaveOther(name));
  });
  app.post(
    "/api/v1/nodes/:name/drain",
    async (c) => c.json(await controlPlane().drain(c.req.param("name"))),
  );
  app.post(
    "/api/v1/nodes/:name/undrain",
    async (c) => c.json(await controlPlane().undrain(c.req.param("name"))),
  );
  app.get("/api/v1/admission", async (c) => {
    if (!deps.admissionLog) {
      throw new ApiError(503, "starting", "the agent is still starting; try again in a moment");
    }
    return c.json({ events: await deps.admissionLog() });
  });
  app.get("/api/v1/token", async (c) => {
    const token = await deps.joinToken();
    const through = deps.joinAddress?.();
    return c.json(through ? { token, join: through } : { token });
  });
  app.get("/metrics", (c) =>
    c.body(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
}
