/**
 * Routes that list, show, create, update and remove services.
 * @module
 */
import type { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { readLimitedBody } from "../body.ts";
import { describeService, summarizeService } from "../summary.ts";
import type { ApiDeps } from "../types.ts";
import { validateServiceName } from "../../spec/mod.ts";

/** The 404 for a service that does not exist. */
export function serviceNotFound(name: string): ApiError {
  return new ApiError(
    404,
    "not_found",
    `no service named ${JSON.stringify(name)}; list them with \`fossora services\``,
  );
}

/** Adds the service routes (not logs) to `app`. */
export function addServiceRoutes(app: Hono, deps: ApiDeps, maxBodyBytes: number): void {
  app.get("/api/v1/services", (c) =>
    c.json({
      services: deps.view.services().map((s) =>
        summarizeService(deps.view, s, deps.domain, deps.proxyProblem)
      ),
    }));
  app.post("/api/v1/services", async (c) => {
    const body = await readLimitedBody(c.req.raw, maxBodyBytes);
    const result = deps.parseServiceFile(body, { contentType: c.req.header("content-type") });
    if (!result.ok) {
      const n = result.problems.length;
      throw new ApiError(
        400,
        "invalid_spec",
        `the service file has ${n} problem${n === 1 ? "" : "s"}; nothing was changed`,
        result.problems,
      );
    }
    if (result.services.length === 0) {
      throw new ApiError(400, "invalid_spec", "the service file defines no service", [
        { path: "", message: "write one service, a list of them, or a compose `services:` map" },
      ]);
    }
    const applied = await deps.services.apply(result.services);
    return c.json({ services: applied, warnings: result.warnings });
  });
  app.get("/api/v1/services/:name", (c) => {
    const name = c.req.param("name");
    const record = deps.view.service(name);
    if (!record) throw serviceNotFound(name);
    return c.json(describeService(deps.view, record, deps.domain, deps.proxyProblem));
  });
  app.delete("/api/v1/services/:name", async (c) => {
    const name = c.req.param("name");
    // A name no service can have (a/b, ../x) never reaches the store.
    if (validateServiceName(name) !== undefined) throw serviceNotFound(name);
    if (!(await deps.services.remove(name))) throw serviceNotFound(name);
    return c.json({ removed: name });
  });
}
