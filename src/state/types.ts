/**
 * The records fossora keeps in etcd. Each family has one writer (see DESIGN.md); these types are
 * the contract between the parts, so every field is documented here and nowhere else.
 * @module
 */

/** A port of a service's container. */
export interface PortSpec {
  /** Port inside the container, 1..65535. */
  container: number;
  /** Served at `http://NAME.DOMAIN/` by every node's proxy. At most one port of a service. */
  http: boolean;
  /**
   * Port every node forwards to a live replica (the routing mesh), 1..65535, unique in the
   * cluster for its protocol.
   */
  published?: number;
  /**
   * `udp` for a UDP port, which cannot be the http port and must be published unless the
   * service is a stack's (whose services reach it by name); absent means TCP. Stored only for
   * UDP, so specs written before it stay as they were.
   */
  protocol?: "udp";
  /**
   * Only on the `http: true` port: `http://NAME.DOMAIN/` answers with a redirect to
   * `https://NAME.DOMAIN/`. Absent means false (http:// is served as well); stored only when
   * true, so specs written before it stay as they were. Not a container setting: changing it
   * keeps the generation and the running replicas.
   */
  httpsRedirect?: boolean;
  /**
   * A published TCP port of a service with no http port (compose's `"8096:8096"`): the node
   * running a replica checks whether it answers HTTP, and if it does the service is also served
   * at `http://NAME.DOMAIN/` through it. Stored only when true.
   */
  detectHttp?: boolean;
}

/** A named volume, kept by the cluster: a Docker volume that survives a redeploy. */
export interface VolumeSpec {
  /** DNS-label-like name; the Docker volume is `fossora-<service>-<name>` (see `shared`). */
  name: string;
  /** Absolute path inside the container. */
  path: string;
  /** Mounted read-only. Stored only when true. */
  readOnly?: boolean;
  /**
   * The stack's volume `name`, which other services of the stack mount too: the Docker volume
   * is `fossora_<stack>_<name>`, and the services that share it run on one node. Stored only
   * when true.
   */
  shared?: true;
}

/** Where a service may run. Every field narrows the set of nodes; absent means any. */
export interface Placement {
  arch?: string[];
  sites?: string[];
  labels?: Record<string, string>;
  /** Swarm's placement constraints, every one of which a node must meet. */
  constraints?: Constraint[];
}

/** A Swarm placement constraint such as `node.labels.disk == ssd`. */
export interface Constraint {
  /**
   * `node.hostname` (the node's name), `node.id`, `node.role` (`manager` for an etcd voter,
   * else `worker`), `node.platform.arch` (Docker's name: amd64, arm64), `node.platform.os`
   * (`linux`), or `node.labels.KEY` (the node's `--label KEY=…`; `site` is its site).
   */
  attribute: string;
  op: "==" | "!=";
  value: string;
}

/** What one replica reserves on its node: the scheduler places it only where this is left. */
export interface Resources {
  /** CPUs (cores), e.g. 0.5. */
  cpus?: number;
  /** Memory in bytes. */
  memory?: number;
}

/** A service as the user wrote it, after validation and defaults. */
export interface ServiceSpec {
  /**
   * DNS label: [a-z0-9-], 1..63, no leading or trailing dash; `SERVICE.STACK` (two labels) for
   * a service of a stack. Unique in the cluster.
   */
  name: string;
  image: string;
  /** Replaces the image's CMD when present. */
  command?: string[];
  /** Wanted replicas, 0..100. */
  replicas: number;
  ports: PortSpec[];
  env: Record<string, string>;
  volumes: VolumeSpec[];
  placement: Placement;
  /** Reserved by each replica; absent means nothing. Not a container setting. */
  resources?: Resources;
  /** Docker's health check; a replica with one is ready only while healthy. */
  healthcheck?: Healthcheck;
  /**
   * The stack (a deployed compose file) this service belongs to; then `name` is
   * `SERVICE.STACK`, where SERVICE is its compose name, which the stack's other containers
   * reach it by. Absent for a plain service.
   */
  stack?: string;
  /** Host paths mounted into the container: it runs only on nodes that have every `source`. */
  binds?: BindSpec[];
  /** Host devices given to the container: it runs only on nodes that have every `host`. */
  devices?: DeviceSpec[];
  /**
   * The container runs in the node's network namespace (`network_mode: host`): at most one
   * replica a node, its container ports are ports of the node, and the proxy reaches it at the
   * node's address. Stored only when true.
   */
  hostNetwork?: boolean;
  /**
   * Other names the stack's containers reach this service by, besides its compose name's DNS
   * form: the compose key itself when it is not a DNS label (`db_server`), and its network
   * aliases. Absent when none.
   */
  aliases?: string[];
  /** This service is its stack's front: also served at `http://STACK.DOMAIN/`. Only when true. */
  front?: boolean;
  /** Files from the stack's `secrets` and `configs`, mounted read-only into the container. */
  files?: FileMount[];
  /** Services of the same stack (by compose name) that must be up before this one starts. */
  dependsOn?: Dependency[];
  /** Docker settings of the container, passed on as Docker applies them. */
  container?: ContainerOptions;
}

/** A host path (file or directory) bind-mounted into the container. */
export interface BindSpec {
  /** Absolute path on the node. */
  source: string;
  /** Absolute path inside the container. */
  path: string;
  /** Stored only when true. */
  readOnly?: boolean;
}

/** A host device given to the container, as `docker run --device HOST:CONTAINER:PERMISSIONS`. */
export interface DeviceSpec {
  /** Absolute path on the node, e.g. `/dev/dri`. */
  host: string;
  /** Path inside the container; absent means the same as `host`. */
  container?: string;
  /** Cgroup permissions, some of `rwm`; absent means `rwm`. */
  permissions?: string;
}

/**
 * A stack's secret or config mounted as a file. Its content is kept in etcd under
 * `secrets/<stack>/<name>` (secrets and configs alike), never in the service's record, and
 * written by the node that runs the container to a root-only file bind-mounted read-only.
 */
export interface FileMount {
  /** The secret's or config's name in the stack. */
  name: string;
  /** Where it appears in the container (`/run/secrets/NAME` for a secret by default). */
  path: string;
  /** True for a secret (never shown), false for a config. */
  secret: boolean;
  /** File mode inside the container; absent means 0444. */
  mode?: number;
  /**
   * Changes when the content does, so a new secret rolls the service's replicas: a hash keyed
   * with the cluster's peer token, which tells nothing of the content.
   */
  version?: string;
  uid?: string;
  gid?: string;
}

/** compose's `depends_on` entry. */
export interface Dependency {
  /** The compose name of a service of the same stack. */
  service: string;
  /** `started`: its replicas run; `healthy`: they are ready (healthy); `completed`: it exited 0. */
  condition: "started" | "healthy" | "completed";
}

/** A tmpfs mount, as `docker run --tmpfs PATH:size=SIZE,mode=MODE`. */
export interface TmpfsSpec {
  path: string;
  /** Bytes; absent means Docker's default (half the node's memory). */
  size?: number;
  /** File mode of the mount's root, e.g. 0o1777. */
  mode?: number;
}

/** A resource limit (`ulimit`) of the container's processes. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/**
 * Docker settings of a service's containers, each doing what `docker run`'s option of the
 * same meaning does. Every field is optional and absent means Docker's default.
 */
export interface ContainerOptions {
  /** `--user`: `uid`, `uid:gid`, `name` or `name:group`. */
  user?: string;
  /** `--workdir`. */
  workingDir?: string;
  /** `--entrypoint`: replaces the image's ENTRYPOINT; `[]` clears it. */
  entrypoint?: string[];
  capAdd?: string[];
  capDrop?: string[];
  /** Full access to the node: every device and capability. */
  privileged?: boolean;
  sysctls?: Record<string, string>;
  /** Size of `/dev/shm`, bytes. */
  shmSize?: number;
  tmpfs?: TmpfsSpec[];
  /** The container's root file system is read-only. */
  readOnly?: boolean;
  securityOpt?: string[];
  /** Runs an init process (`docker run --init`) as PID 1. */
  init?: boolean;
  /** Container labels (besides fossora's own). */
  labels?: Record<string, string>;
  /** Lines added to the container's `/etc/hosts`, as `NAME:ADDRESS`. */
  extraHosts?: string[];
  /** Signal that stops the container, e.g. `SIGINT`; absent means the image's (SIGTERM). */
  stopSignal?: string;
  /** Time between the stop signal and SIGKILL, Go's syntax (`1m30s`); absent means 10s. */
  stopGracePeriod?: string;
  ulimits?: Ulimit[];
  /** `os/arch[/variant]` of the image to pull and run, e.g. `linux/arm64`. */
  platform?: string;
  /** Paths inside the container that get a fresh anonymous volume, as Docker's `-v /path`. */
  anonymousVolumes?: string[];
  /** `--group-add`: more groups for the container's user (`render`, `109`). */
  groupAdd?: string[];
  /** `--device-cgroup-rule`: devices the container may use, e.g. `c 226:* rmw`. */
  deviceCgroupRules?: string[];
  /** `--runtime`: the OCI runtime, e.g. `nvidia` for GPUs (must be installed on the node). */
  runtime?: string;
  /** Hard limits, enforced by Docker (the scheduler uses `resources`, the reservations). */
  limits?: { cpus?: number; memory?: number; pids?: number };
}

/**
 * A container health check as Docker runs it. Durations are kept as written (Go's syntax:
 * `30s`, `1m30s`, `500ms`) so a spec read back deploys unchanged; absent ones are Docker's.
 */
export interface Healthcheck {
  /** `["CMD", program, ...args]`, `["CMD-SHELL", command]`, or `["NONE"]`: the image's off. */
  test: string[];
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  /** Failures in a row before the container is unhealthy. */
  retries?: number;
}

/** `services/<name>`: written by the API. */
export interface ServiceRecord {
  spec: ServiceSpec;
  /** Starts at 1, bumped by every update of the spec. */
  generation: number;
  createdAt: string;
  updatedAt: string;
  /**
   * The generation before this one, which replicas not yet rolled still run (an update rolls
   * one replica at a time, and a generation that never becomes ready stops the roll).
   */
  previous?: { generation: number; spec: ServiceSpec };
}

/** A node's role in the etcd cluster. */
export type NodeRole = "voter" | "learner" | "worker";
/** A node's state as `fossora nodes` shows it. */
export type NodeState = "ready" | "down" | "joining" | "left";

/** How busy a node is, measured by its agent at each refresh of its record. */
export interface NodeUsage {
  /** The one-minute load average divided by the CPUs: 1 is every CPU busy. */
  load: number;
  /** Memory in use in bytes: the total less what the kernel says is available. */
  memoryUsed: number;
  /** The file system of the agent's data directory (where volumes live), in bytes. */
  disk: { total: number; free: number };
}

/** `nodes/<id>`: written by that node, on its lease. */
export interface NodeRecord {
  id: string;
  name: string;
  /** The address other nodes and clients use to reach this node (IPv4). */
  address: string;
  /**
   * This node's IPv6 addresses that clients can reach (global or unique-local), which DNS
   * answers as AAAA records; absent in records written before agents knew them.
   */
  addresses6?: string[];
  /** This node's Tailscale IPv4, when tailscaled runs: tailnet split DNS points there. */
  tailnetAddress?: string;
  /** What the machine has (CPUs, memory in bytes); absent in records of older agents. */
  capacity?: { cpus: number; memory: number };
  /** What the machine uses, as the agent last measured it; absent in records of older agents. */
  usage?: NodeUsage;
  arch: string;
  site: string;
  labels: Record<string, string>;
  role: NodeRole;
  state: NodeState;
  version: string;
  apiPort: number;
  /**
   * The API over TLS with the cluster CA, where other nodes ask for what only this node has (a
   * replica's logs); absent until it serves, and in records of agents from before it.
   */
  apiTlsPort?: number;
  httpPort: number;
  /** The proxy's HTTPS port; absent in records of agents from before it was reported. */
  httpsPort?: number;
  dnsPort: number;
  /**
   * What this node has at the host paths and devices services want (every service's
   * `binds[].source` and `devices[].host`, at most {@link MAX_HOST_PATHS}), as the agent last
   * checked them: the scheduler places a service only where each of its paths is there. A path
   * not listed has not been checked yet. Absent while no service wants one.
   */
  hostPaths?: Record<string, HostPathKind>;
  /**
   * The stack mesh's tunnel (mutual TLS with the node certificates), where other nodes reach
   * this node's containers for a stack's services; absent until it listens, and in records of
   * agents from before it.
   */
  meshPort?: number;
  startedAt: string;
  /** Refreshed by the node every few seconds while it runs. */
  lastSeen: string;
}

/**
 * What a node has at a host path: a directory, a regular file, a character or block device,
 * something else that exists (a socket, a FIFO), or nothing. Symbolic links are followed.
 */
export type HostPathKind = "dir" | "file" | "device" | "other" | "missing";

/** The most host paths a node reports; the rest (sorted by path) are not placed on. */
export const MAX_HOST_PATHS = 256;
/** The longest host path a node checks, in characters (Linux's PATH_MAX is 4096 bytes). */
export const MAX_HOST_PATH_CHARS = 1024;

/**
 * `members/<node id>`: a node the cluster admitted, written by the admission leader. Unlike the
 * leased {@link NodeRecord} it outlives the node's agent, so a node that is down is still known
 * (and shown as down), a reinstalled node can replace it, and `fossora nodes rm` can forget it.
 */
export interface MemberRecord {
  id: string;
  name: string;
  address: string;
  site: string;
  arch: string;
  apiPort: number;
  etcdPeerPort: number;
  etcdClientPort: number;
  /** What the control plane made it: an etcd voter, or a client of the voters. */
  role: "voter" | "worker";
  /** When it was admitted (ms). */
  joinedAt: number;
  /** `fossora leave` was asked: the leader moves its vote to another node first. */
  leaving?: boolean;
  /** When the leader first saw it down (ms); cleared when it is back. */
  downAt?: number;
  /** When it left (ms); the record stays, shown as `left`, until `fossora nodes rm`. */
  leftAt?: number;
}

/** `assignments/<service>/<replica>`: written by the elected scheduler. */
export interface Assignment {
  service: string;
  /** 0-based replica index. */
  replica: number;
  /** Node id that runs this replica. */
  node: string;
  /** The service generation the replica must run. */
  generation: number;
  /**
   * While a replica moves off a node that is still up (drained, or no longer fitting), that
   * node: it keeps serving its copy until the copy on `node` is ready, so the move drops no
   * request. Absent otherwise.
   */
  previous?: string;
}

/** What a replica's container is doing, as the runtime saw it last. */
export type ReplicaState = "pending" | "pulling" | "starting" | "running" | "exited" | "error";

/** `replicas/<node>/<service>/<replica>`: written by the node that runs it, on its lease. */
export interface ReplicaStatus {
  service: string;
  replica: number;
  node: string;
  generation: number;
  state: ReplicaState;
  /** True when the container runs and its HTTP port (if any) accepts connections. */
  ready: boolean;
  containerId?: string;
  /** Exit code when `state` is `exited`. */
  exitCode?: number;
  /** Why, for `error` and `exited` (Docker's message, or the runtime's). */
  message?: string;
  /** Address of the node where the container's ports are published. */
  address: string;
  /**
   * Container port -> host port on `address`, keyed by {@link portKey}: `"80"` for TCP,
   * `"53/udp"` for UDP.
   */
  ports: Record<string, number>;
  /**
   * The container port (one marked `detectHttp`) found answering HTTP on this replica, which the
   * proxy then serves at `http://NAME.DOMAIN/`. Absent when none is (or none is marked).
   */
  httpPort?: number;
  /** Times the runtime restarted this container after it exited. */
  restarts: number;
  /**
   * For a service of a stack: the container's address on its stack's network on `node`, where
   * the node's agent reaches it for the stack's other services. Absent otherwise.
   */
  stackAddress?: string;
  /**
   * For a service of a stack: the TCP ports the container exposes (its image's EXPOSE, as
   * compose's `expose`), which the stack's other services reach at its compose name too.
   */
  exposed?: number[];
  /** When `state` last changed (ISO 8601). */
  since: string;
}

/** `placement/<service>`: written by the elected scheduler while a service cannot be placed. */
export interface PlacementProblem {
  service: string;
  /** Why, for the user: "no ready node has arch arm64". */
  reason: string;
  since: string;
}

/** What a {@link ClusterEvent} is about. */
export type EventKind = "moved" | "node-down" | "node-up" | "drained" | "undrained";

/**
 * `events/<id>`: something that happened in the cluster, kept for people (`fossora services
 * NAME`, `fossora status`, `GET /api/v1/events`). Written by the elected scheduler (moves, nodes
 * going down and coming back) and the API (drain); the scheduler keeps the newest
 * `EVENTS_KEPT`.
 */
export interface ClusterEvent {
  /** Its key: the time in ms, zero-padded, and a random suffix, so keys sort by time. */
  id: string;
  /** ISO 8601. */
  at: string;
  kind: EventKind;
  /** The service, for a move. */
  service?: string;
  replica?: number;
  /** The node's name: the one that went down or came back, or was drained. */
  node?: string;
  /** A move's old and new node names. */
  from?: string;
  to?: string;
  /** For people: "replica 0 moved from node2 to node1: node2 went down". */
  message: string;
}

/** `drain/<node id>`: written by the API while a node is drained; the scheduler keeps replicas off it. */
export interface DrainRecord {
  node: string;
  /** ISO 8601. */
  since: string;
}

/** `cluster/info`: written once by the node that created the cluster. */
export interface ClusterInfo {
  id: string;
  createdAt: string;
  domain: string;
}

/**
 * `certs/<name>`: a certificate every node's proxy serves on its HTTPS port, written by the
 * elected node that holds the cluster CA's key. `certs/proxy` covers the service names.
 */
export interface ServingCert {
  /** The DNS names in the certificate, sorted (`DOMAIN`, `*.DOMAIN`, ...). */
  names: string[];
  certPem: string;
  /** The private key: etcd is reachable only with a cluster certificate, and no API shows it. */
  keyPem: string;
  /** ISO 8601. */
  notAfter: string;
  issuedAt: string;
}

/**
 * How a container port is keyed in a replica's `ports`: the number for TCP (as before UDP
 * existed), `NUMBER/udp` for UDP.
 */
export function portKey(p: { container: number; protocol?: "udp" }): string {
  return p.protocol === "udp" ? `${p.container}/udp` : String(p.container);
}
