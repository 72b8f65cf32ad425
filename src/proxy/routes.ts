/**
 * Where a request goes: from its Host header to a service, from the service to its ready
 * replicas in round-robin order, skipping replicas that just refused a connection. Pure apart
 * from the injected clock, so it is tested without sockets.
 * @module
 */
import type { ReplicaStatus, ServiceRecord } from "../state/types.ts";
import { type ClusterView, serviceByName } from "../state/view.ts";

/** One replica's published HTTP port. */
export interface Backend {
  /** `address:port`, the key for marking it out. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

/** What to do with a request. */
export type Route =
  | { kind: "unknown"; host: string }
  | { kind: "no-http"; service: string }
  /** `reason` is the full story for the log; `summary` is what a visitor may read. */
  | { kind: "unavailable"; service: string; reason: string; summary: string }
  /**
   * Backends in the order to try them: the round-robin pick first. `httpsRedirect`: the service
   * asks that http:// be redirected to https://.
   */
  | { kind: "proxy"; service: string; backends: Backend[]; httpsRedirect: boolean };

/**
 * The service a Host header names, or undefined when it is not `NAME.DOMAIN` or
 * `SERVICE.STACK.DOMAIN`.
 */
export function serviceFromHost(host: string | undefined, suffix: string): string | undefined {
  if (!host) return undefined;
  let h = host.toLowerCase();
  const colon = h.lastIndexOf(":");
  if (colon >= 0 && !h.includes("]", colon)) h = h.slice(0, colon);
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (!h.endsWith(suffix)) return undefined;
  const name = h.slice(0, h.length - suffix.length);
  return name && name.split(".").length <= 2 && !name.split(".").includes("") ? name : undefined;
}

/** Why a service has no ready replica, in words for the 503 page. */
export function unavailableReason(service: ServiceRecord, replicas: ReplicaStatus[]): string {
  if (service.spec.replicas === 0) return "it is scaled to 0 replicas (no replicas wanted)";
  if (replicas.length === 0) return "no replica has been placed on a node yet";
  const failed = replicas
    .filter((r) => r.state === "error" || r.state === "exited")
    .sort((a, b) => b.since.localeCompare(a.since))[0];
  if (failed) {
    const what = failed.state === "exited"
      ? `exited with code ${failed.exitCode ?? "unknown"}`
      : "failed";
    return `replica ${failed.replica} on node ${failed.node} ${what}` +
      (failed.message ? ` (${failed.message})` : "");
  }
  const states = [...new Set(replicas.map((r) => r.state))].join(", ");
  return `its replicas are starting (${states})`;
}

/**
 * Why a service has no ready replica, in words a visitor may read: no node, address, container
 * or Docker message (those go to the log and `fossora services`).
 */
export function publicReason(service: ServiceRecord, replicas: ReplicaStatus[]): string {
  if (service.spec.replicas === 0) return "it is switched off (scaled to 0 replicas)";
  if (replicas.length === 0) return "it has not been started on any node yet";
  if (replicas.some((r) => r.state === "error" || r.state === "exited")) {
    return "it failed to start or stopped";
  }
  if (replicas.some((r) => r.state === "running")) return "it runs but does not answer yet";
  return "it is starting";
}

/** Turns Host headers into routes; keeps the round-robin position and refused backends. */
export class Router {
  readonly #view: ClusterView;
  readonly #suffix: string;
  readonly #now: () => number;
  readonly #outMs: number;
  readonly #next = new Map<string, number>();
  readonly #outUntil = new Map<string, number>();
  readonly #backends = new Map<string, Backend>();

  constructor(view: ClusterView, domain: string, now: () => number, outMs: number) {
    this.#view = view;
    this.#suffix = "." + domain.toLowerCase().replace(/^\.+|\.+$/g, "");
    this.#now = now;
    this.#outMs = outMs;
  }

  /** The route for a request with this Host header. */
  route(host: string | undefined): Route {
    const asked = serviceFromHost(host, this.#suffix);
    const service = asked === undefined ? undefined : serviceByName(this.#view, asked);
    if (!asked || !service) return { kind: "unknown", host: host ?? "" };
    const name = service.spec.name;
    const http = service.spec.ports.find((p) => p.http);
    const all = this.#view.replicasOf(name);
    // Without an http port, a published port its replicas found answering HTTP serves instead.
    const port = http?.container ?? all.find((r) => r.ready && r.httpPort)?.httpPort;
    if (port === undefined) return { kind: "no-http", service: name };
    const replicas = http ? all : all.filter((r) => r.httpPort === port);
    const backends = this.#readyBackends(replicas, String(port));
    if (backends.length === 0) {
      return {
        kind: "unavailable",
        service: name,
        reason: unavailableReason(service, replicas),
        summary: publicReason(service, replicas),
      };
    }
    return {
      kind: "proxy",
      service: name,
      backends: this.#order(name, backends),
      httpsRedirect: http?.httpsRedirect === true,
    };
  }

  /** Takes a backend out of rotation for a while after it refused a connection. */
  markOut(backend: Backend): void {
    this.#outUntil.set(backend.key, this.#now() + this.#outMs);
  }

  #readyBackends(replicas: ReplicaStatus[], port: string): Backend[] {
    const out: Backend[] = [];
    for (const r of replicas) {
      const hostPort = r.ready ? r.ports[port] : undefined;
      if (hostPort) out.push(this.#backend(r.address, hostPort));
    }
    return out;
  }

  /** Round-robin start, then the rest; backends marked out go last, still tried if all fail. */
  #order(service: string, backends: Backend[]): Backend[] {
    const start = (this.#next.get(service) ?? 0) % backends.length;
    this.#next.set(service, start + 1);
    const rotated = start === 0
      ? backends
      : [...backends.slice(start), ...backends.slice(0, start)];
    if (this.#outUntil.size === 0) return rotated;
    const now = this.#now();
    const isOut = (b: Backend) => {
      const until = this.#outUntil.get(b.key);
      if (until !== undefined && until <= now) this.#outUntil.delete(b.key);
      return until !== undefined && until > now;
    };
    const up = rotated.filter((b) => !isOut(b));
    return up.length === rotated.length ? rotated : [...up, ...rotated.filter(isOut)];
  }

  /** Backends are interned so a request allocates none. */
  #backend(host: string, port: number): Backend {
    const key = `${host}:${port}`;
    let b = this.#backends.get(key);
    if (!b) {
      if (this.#backends.size > 10_000) this.#backends.clear();
      this.#backends.set(key, b = { key, host, port });
    }
    return b;
  }
}
