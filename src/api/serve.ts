/**
 * Serves the API with `Deno.serve`. Stopping the server also ends long-lived answers (followed
 * logs), which would otherwise keep a graceful shutdown waiting forever.
 * @module
 */
import type { Hono } from "hono";

/** Options of `serveApi`. */
export interface ServeOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Aborting it stops the server. */
  signal: AbortSignal;
  /** Serve over TLS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
  /** The client behind a connection, when another server passed it on (see tls_front.ts). */
  clientOf?: (addr: Deno.NetAddr) => Deno.NetAddr;
}

/** Listens on `hostname:port`; resolves once listening, with the port and when it has stopped. */
export function serveApi(
  app: Hono,
  o: ServeOptions,
): Promise<{ port: number; finished: Promise<void> }> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: o.hostname,
      port: o.port,
      signal: o.signal,
      onListen: () => {},
      ...(o.tls ?? {}),
      // The peer's address reaches the routes as the env's remoteAddr (the join desk asks the
      // tailnet who it is).
      handler: (req, info) =>
        app.fetch(withSignal(req, o.signal), {
          remoteAddr: o.clientOf ? o.clientOf(info.remoteAddr) : info.remoteAddr,
        }),
    });
  } catch (e) {
    return Promise.reject(listenError(e, o));
  }
  return Promise.resolve({ port: server.addr.port, finished: server.finished });
}

/**
 * The request with the server's stop signal as its signal. Built from the parts rather than from
 * `req`, whose own signal Deno aborts after every response (and warns about when it is read);
 * a client that goes away cancels the response body instead, which ends log streams too.
 */
function withSignal(req: Request, signal: AbortSignal): Request {
  return new Request(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body,
    signal,
  });
}

/** Why the API could not listen, and what to do. */
export function listenError(e: unknown, o: { hostname: string; port: number }): Error {
  const where = `${o.hostname}:${o.port}`;
  if (e instanceof Deno.errors.AddrInUse) {
    return new Error(
      `cannot serve the API on ${where}: the port is in use; stop what uses it or pass --api-port`,
      { cause: e },
    );
  }
  if (e instanceof Deno.errors.AddrNotAvailable) {
    return new Error(
      `cannot serve the API on ${where}: no such local address; check --bind-addr`,
      { cause: e },
    );
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(`cannot serve the API on ${where}: ${msg}`, { cause: e });
}
