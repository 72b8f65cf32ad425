/**
 * A fake agent API for the client's tests: a real `Deno.serve` on a free port answering canned
 * responses in the API's format, and recording what it was sent. Not part of the public face.
 * @module
 */

/** A request as the fake API saw it. */
export interface SeenRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** Answers one route; keys of the route table are `METHOD /path` (path without the query). */
export type FakeRoute = (req: Request) => Response | Promise<Response>;

/** A running fake API. */
export interface FakeApi {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** A JSON response like the API's. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** An API error response. */
export function apiError(
  status: number,
  code: string,
  message: string,
  details: unknown[] = [],
): Response {
  return json({ error: { code, message, details } }, status);
}

/** Starts the fake API; unknown routes answer the API's 404. */
export function startFakeApi(routes: Record<string, FakeRoute>): FakeApi {
  const seen: SeenRequest[] = [];
  const stop = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: stop.signal,
    onListen: () => {},
    handler: async (req) => {
      const url = new URL(req.url);
      const body = new Uint8Array(await req.arrayBuffer());
      seen.push({
        method: req.method,
        path: url.pathname + url.search,
        headers: req.headers,
        body,
      });
      const route = routes[`${req.method} ${url.pathname}`];
      return route ? await route(req) : apiError(404, "not_found", `no route ${url.pathname}`);
    },
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: async () => {
      stop.abort();
      await server.finished;
    },
  };
}
