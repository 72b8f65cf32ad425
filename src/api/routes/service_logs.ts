/**
 * `GET /api/v1/services/:name/logs`: the container logs of a service's replicas as one text
 * stream, kept open with `follow=1` until the client goes away.
 * @module
 */
import type { Hono } from "hono";
import type { ReplicaStatus } from "../../state/types.ts";
import { ApiError } from "../errors.ts";
import { type LogSource, mergeLogs } from "../logs.ts";
import { queryCount, queryFlag } from "../params.ts";
import type { ApiDeps } from "../types.ts";
import { serviceNotFound } from "./services.ts";

/** Adds the logs route to `app`. */
export function addLogRoutes(app: Hono, deps: ApiDeps): void {
  app.get("/api/v1/services/:name/logs", async (c) => {
    const name = c.req.param("name");
    if (!deps.view.service(name)) throw serviceNotFound(name);
    const follow = queryFlag(c.req.query("follow"));
    const tail = queryCount("tail", c.req.query("tail"));
    const only = queryCount("replica", c.req.query("replica"));
    // `local=1`: another node asks for what runs here, so nothing is asked further.
    const local = queryFlag(c.req.query("local"));
    const candidates = deps.view.replicasOf(name).filter((r) => !local || r.node === deps.nodeId);
    const replicas = pickReplicas(candidates, name, only);

    const stop = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => stop.abort(), { once: true });
    const opened = await Promise.allSettled(
      replicas.map((r) =>
        deps.logs(name, r.replica, r.node, { follow, tail, signal: stop.signal, local })
      ),
    );
    const prefixOf = (r: ReplicaStatus) => replicas.length > 1 ? `[replica ${r.replica}] ` : "";
    const sources: LogSource[] = [];
    const notices: string[] = [];
    opened.forEach((o, i) => {
      if (o.status === "fulfilled") {
        sources.push({ prefix: prefixOf(replicas[i]), stream: o.value });
      } else notices.push(`${prefixOf(replicas[i])}(logs unavailable: ${reason(o.reason)})`);
    });
    if (sources.length === 0) {
      const first = (opened[0] as PromiseRejectedResult).reason;
      throw new ApiError(
        502,
        "logs_unavailable",
        `cannot read the logs of ${name}: ${reason(first)}`,
      );
    }
    return new Response(mergeLogs(sources, notices, () => stop.abort()), {
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      },
    });
  });
}

/** The replicas whose logs to read: those with a container, optionally only one index. */
function pickReplicas(all: ReplicaStatus[], name: string, only?: number): ReplicaStatus[] {
  const chosen = only === undefined ? all : all.filter((r) => r.replica === only);
  if (only !== undefined && chosen.length === 0) {
    throw new ApiError(404, "not_found", `service ${name} has no replica ${only}`);
  }
  const withContainer = chosen.filter((r) => r.containerId);
  if (withContainer.length === 0) {
    throw new ApiError(
      409,
      "no_replicas",
      `${name} has no container yet, so no logs; see its state with \`fossora services\``,
    );
  }
  return withContainer;
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
