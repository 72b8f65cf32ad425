/**
 * `GET /api/v1/events`: what happened in the cluster (moves and why, nodes going down and coming
 * back, drains), newest first, from the node's copy of the state, so it answers without quorum.
 * `?follow=1` keeps the answer open and sends each new event as one more JSON line.
 * @module
 */
import type { Hono } from "hono";
import type { ClusterEvent } from "../../state/types.ts";
import { queryCount, queryFlag } from "../params.ts";
import type { ApiDeps } from "../types.ts";
import { serviceNotFound } from "./services.ts";

/** Events answered when `?limit` is not given. */
export const DEFAULT_EVENTS = 100;
/** How often a follower looks for new events. */
const FOLLOW_POLL_MS = 250;

/** Adds the events route to `app`. */
export function addEventRoutes(app: Hono, deps: ApiDeps): void {
  app.get("/api/v1/events", (c) => {
    const service = c.req.query("service");
    if (service !== undefined && !deps.view.service(service) && !deps.view.events(service).length) {
      throw serviceNotFound(service);
    }
    const limit = queryCount("limit", c.req.query("limit")) ?? DEFAULT_EVENTS;
    const events = deps.view.events(service).slice(0, limit);
    if (!queryFlag(c.req.query("follow"))) return c.json({ events });
    return new Response(follow(deps, service, events, c.req.raw.signal), {
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      },
    });
  });
}

/** The events so far, oldest first, then each new one as it comes, one JSON object a line. */
function follow(
  deps: ApiDeps,
  service: string | undefined,
  first: ClusterEvent[],
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let last = first[0]?.id ?? "";
  let timer: ReturnType<typeof setInterval> | undefined;
  const line = (e: ClusterEvent) => encoder.encode(JSON.stringify(e) + "\n");
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const e of [...first].reverse()) controller.enqueue(line(e));
      const stop = () => {
        clearInterval(timer);
        try {
          controller.close();
        } catch { /* already closed */ }
      };
      signal.addEventListener("abort", stop, { once: true });
      timer = setInterval(() => {
        const fresh = deps.view.events(service).filter((e) => e.id > last).reverse();
        for (const e of fresh) controller.enqueue(line(e));
        if (fresh.length) last = fresh[fresh.length - 1].id;
      }, FOLLOW_POLL_MS);
    },
    cancel() {
      clearInterval(timer);
    },
  });
}
