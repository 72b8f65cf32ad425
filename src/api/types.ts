import type { Hono } from "hono";
/**
 * What the API needs from the rest of the agent. Everything with a side effect (etcd writes, log
 * streams, the clock of the leader election) comes in through these interfaces so the routes can
 * be tested with a `MemoryView` and in-memory doubles.
 * @module
 */
import type { JoinDesk } from "../admission/desk.ts";
import type { AdmissionEvent } from "../admission/types.ts";
import type { ServiceSpec } from "../state/types.ts";
import type { ClusterView } from "../state/view.ts";
import type { Registry } from "../metrics/mod.ts";
import type { Logger } from "../util/log.ts";
import type { ParseOptions, ParseResult, StackFiles } from "../spec/mod.ts";
import type { ApplyResult } from "../state/mod.ts";

/** Where service writes go; the agent implements it on etcd with transactions. */
export interface ServiceStore {
  /** Creates or updates every spec, atomically for the whole list. May throw `ApiError`. */
  apply(specs: ServiceSpec[]): Promise<ApplyResult[]>;
  /** Restarts a service's replicas, one at a time; false when there was no such service. */
  restart(name: string): Promise<boolean>;
  /** Removes a service; false when there was no such service. */
  remove(name: string): Promise<boolean>;
  /**
   * Deploys a stack: its services, the removal of those the file no longer has, its secrets
   * and configs. May throw `ApiError`.
   */
  applyStack(
    stack: StackFiles,
    specs: ServiceSpec[],
  ): Promise<{ services: ApplyResult[]; removed: string[] }>;
  /** Removes a stack's services and secrets; the names removed (none: no such stack). */
  removeStack(name: string): Promise<string[]>;
}

/** Options of one replica's log stream. */
export interface LogOptions {
  /** Keep the stream open and send new lines as they come. */
  follow: boolean;
  /** Only the last N lines of what is already there. */
  tail?: number;
  /** Aborted when the client goes away or the server stops; the stream must end then. */
  signal: AbortSignal;
  /** Asked by another node: only a replica on this node may answer, never one forwarded. */
  local?: boolean;
}

/** Reads a service file (JSON, YAML or compose) into specs, or every problem found in it. */
export type ParseServiceFile = (
  input: Uint8Array | string,
  options: ParseOptions,
) => ParseResult;

/** Membership changes a person asks for (the agent does them; errors are ApiErrors). */
export interface ControlPlane {
  /** `fossora nodes rm NAME`: forgets a node that is down, its etcd membership included. */
  removeNode(name: string): Promise<{ removed: string; message: string }>;
  /** `fossora leave`: this node leaves; resolves once its membership is gone. */
  leave(): Promise<{ left: string; message: string }>;
  /**
   * `fossora leave NAME`: asks the running node `name` to leave (over the nodes' TLS API);
   * resolves once it has.
   */
  leaveOther(name: string): Promise<{ left: string; message: string }>;
  /** `fossora nodes drain NAME`: no new replicas there, and its replicas move away. */
  drain(name: string): Promise<DrainAnswer>;
  /** `fossora nodes undrain NAME`: the node takes replicas again. */
  undrain(name: string): Promise<DrainAnswer>;
}

/** What drain and undrain answer. */
export interface DrainAnswer {
  node: string;
  drained: boolean;
  message: string;
}

/** Everything `createApi` needs. */
export interface ApiDeps {
  view: ClusterView;
  /**
   * The web UI, served on every path outside `/api/` and `/metrics` (it checks its own
   * sessions); absent in tests of the API alone.
   */
  ui?: Hono & {
    /** True for a browser's live UI session (with its CSRF token on writes): taken as the token. */
    authorizes?(req: Request): Promise<boolean>;
  };
  /**
   * The web UI's first-run code (`fossora ui setup-code`), or null once the admin password is
   * set.
   */
  uiSetupCode?(): Promise<string | null>;
  services: ServiceStore;
  /** The ports the agents use themselves, which a compose file's services are not given. */
  reservedPorts?: () => { tcp: ReadonlyMap<number, string>; udp: ReadonlyMap<number, string> };
  /** The admin token every route but health and join requires. Empty refuses everything. */
  adminToken: string;
  /** This node's id and name. */
  nodeId: string;
  nodeName: string;
  /** Services are `NAME.DOMAIN`. */
  domain: string;
  /** Whether this node is ready to serve (answers `GET /api/v1/health`). */
  ready(): boolean;
  /** The node id of the etcd leader, when known. */
  leader(): string | undefined;
  /** Whether this node's etcd connection works. */
  etcdHealthy(): boolean;
  /** The cluster's join token. */
  joinToken(): Promise<string>;
  /** The admission log, oldest first (`fossora nodes --history`). */
  admissionLog?(): Promise<AdmissionEvent[]>;
  /** `host:port` a new machine joins through (this node's address and API port). */
  joinAddress?(): string;
  /**
   * The token another node sends when it asks this one for a replica's logs; accepted on that
   * route only. Undefined until this node is a member.
   */
  peerToken?(): string | undefined;
  /**
   * One replica's container log as UTF-8 lines (node is the node id that runs it): read here,
   * or asked of that node.
   */
  logs(
    service: string,
    replica: number,
    node: string,
    opts: LogOptions,
  ): Promise<ReadableStream<Uint8Array>>;
  /** The agent's registry; the API adds its gauges to it. */
  metrics: Registry;
  /**
   * The cluster CA's certificate (PEM), served to anyone at `GET /api/v1/ca.crt`: the one file a
   * person installs on a phone to trust the services' HTTPS. Undefined until it is known.
   */
  caCertificate?(): string | undefined;
  /**
   * Why the proxy's last request to a service failed (502/504), when it did lately: shown as the
   * service's problem when nothing else explains it.
   */
  proxyProblem?(service: string): string | undefined;
  /** Changes to the cluster's membership, once this node is a member. */
  controlPlane?(): ControlPlane | undefined;
  /** The join desk, once this node is a member (undefined while it starts or joins). */
  join?(): JoinDesk | undefined;
  /** Warnings about the cluster, for `GET /api/v1/cluster` (another cluster beside it). */
  warnings?(): string[];
  /** The agent's version, for `GET /api/v1/cluster`. */
  version: string;
  /** `parseServiceFile` from src/spec, injected so tests can replace it. */
  parseServiceFile: ParseServiceFile;
  /** Largest accepted request body; default 1 MiB. */
  maxBodyBytes?: number;
  /** Where unexpected errors are logged; default a logger named `api`. */
  logger?: Logger;
}
