/**
 * The composition root: builds every part of a node with its real dependencies and starts and
 * stops them in order: the servers first when a snapshot of the last known state is on disk
 * (else as soon as etcd has been read), then etcd and the state, then the container runtime;
 * the reverse on shutdown.
 * @module
 */
// What the servers and the etcd member need is imported here; the etcd client's parts
// (./parts.ts) and Docker's (the runtime) load later, each when it is first needed, because
// loading them blocks the event loop (see parts.ts). Type imports cost nothing at run time.
import type { Etcd3 } from "etcd3";
import type { Hono } from "hono";
import { JoinDesk } from "../admission/desk.ts";
import { RoleFollower } from "../admission/follower.ts";
import { joinCluster } from "../admission/joiner.ts";
import {
  AdmissionLeader,
  admissionLog,
  appendEvent,
  CURRENT,
  peerUrlOf,
} from "../admission/leader.ts";
import { etcdMembership } from "../admission/membership.ts";
import { loadMembership, type SavedMembership, saveMembership } from "../admission/saved.ts";
import type { CurrentAdmission, Role } from "../admission/types.ts";
import { formatJoinToken, newSecret, parseJoinToken } from "../admission/token.ts";
import {
  ApiError,
  type ControlPlane,
  createApi,
  type DrainAnswer,
  type LogOptions,
  serveApi,
  TlsFront,
  type TlsPair,
} from "../api/mod.ts";
import { type AdminRecord, type AdminStore, createUi, setupCode } from "../ui/mod.ts";
import { detectAdvertiseAddrs6 } from "../config/advertise.ts";
import {
  decideFounding,
  Finder,
  ForeignClusters,
  keepTailnetCert,
  LocalApiClient,
  MdnsDiscovery,
  SplitDnsKeeper,
  tailnetJoinerTrust,
  tailscaleAdvertiseAddr,
  TailscaleApi,
} from "../discovery/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { DnsServer } from "../dns/mod.ts";
// address.ts alone: mesh/mod.ts would load dockerode before the servers answer from the snapshot.
import { isVirtualAddress } from "../mesh/address.ts";
import {
  type ClusterCA,
  ensureNodeCerts,
  installNodeCert,
  issueServerCert,
  loadOrCreateCA,
  newKeyAndRequest,
  type NodeCerts,
  nodeHttpClient,
  signNodeRequest,
} from "../etcd/certs.ts";
import { EtcdBalancer } from "../etcd/balancer.ts";
import { ensurePrivateDir } from "../etcd/files.ts";
import { EtcdSupervisor } from "../etcd/supervisor.ts";
import type { EtcdTuner } from "../etcd/tuner.ts";
import { type Identity, loadOrCreateIdentity } from "../membership/identity.ts";
import type { HostPathReporter, NodePublisher } from "../membership/mod.ts";
import { Beacon, DEAD_AFTER_MS, Detector, type Verdict } from "../liveness/mod.ts";
import { Registry } from "../metrics/mod.ts";
import {
  CertIssuer,
  type KeyPair,
  keyPairProblem,
  ListenError,
  ServiceProxy,
  TcpForwarder,
  UdpForwarder,
} from "../proxy/mod.ts";
import type { FenceWatchdog, Runtime, WantedReplica } from "../runtime/mod.ts";
import type { ImagePlatforms, Scheduler } from "../scheduler/mod.ts";
import {
  loadSnapshot,
  snapshotFile,
  type SnapshotStorage,
  SnapshotWriter,
} from "../state/snapshot.ts";
import { makeEvent } from "../state/events.ts";
import type {
  DrainRecord,
  LeaderElection,
  LeasedRecords,
  MemberRecord,
  Mirror,
  NodeRecord,
  ServiceRecord,
  ServiceSpec,
  ServingCert,
  Store,
} from "../state/mod.ts";
import { revokeLiveness } from "../state/revoke.ts";
import { SwitchView } from "../state/view.ts";
import { exists, readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import type { Logger } from "../util/log.ts";
import { Backoff } from "../util/backoff.ts";
import { sdNotify } from "../util/notify.ts";
import { VERSION } from "../version.ts";

/** The addresses a started agent serves on (ports resolved when 0 was asked). */
export interface AgentEndpoints {
  api: number;
  /** The API over TLS (join requests); 0 until this node is a member. */
  apiTls?: number;
  http: number;
  dns: number;
}

/** How an agent starts besides its configuration. */
export interface AgentOptions {
  /**
   * Join this cluster (its id), found by discovery: this node's cluster gave way to it and its
   * state was wiped (see {@link Agent.gaveWay}).
   */
  joinCluster?: string;
}

/** The module ./parts.ts once loaded: the parts that use the etcd client. */
type Parts = typeof import("./parts.ts");
/** The runtime's module once loaded. */
type RuntimeModule = typeof import("../runtime/mod.ts");

/** One node: every part, wired together. */
export class Agent {
  identity!: Identity;
  /** This node's etcd member; undefined on a worker, which is a client of the voters. */
  etcd: EtcdSupervisor | undefined;
  client!: Etcd3;
  store!: Store;
  mirror!: Mirror;
  runtime!: Runtime;
  readonly metrics = new Registry();
  /**
   * What the proxy, DNS, the TCP forwarder and the API read: the snapshot from disk until the
   * mirror's first read of etcd, the mirror after.
   */
  readonly view = new SwitchView();
  #snapshots: SnapshotWriter | undefined;
  #parts: Parts | undefined;
  #runtimeModule: RuntimeModule | undefined;
  #leased!: LeasedRecords;
  #publisher!: NodePublisher;
  #hostPaths?: HostPathReporter;
  #election!: LeaderElection;
  #scheduler!: Scheduler;
  /** The platforms of services' images, for the scheduler's filters. */
  #platforms: ImagePlatforms | undefined;
  #proxy!: ServiceProxy;
  #dns!: DnsServer;
  #tcp: TcpForwarder | undefined;
  #udp: UdpForwarder | undefined;
  /** The stack mesh and its tunnel, started with the runtime. */
  #mesh: import("../mesh/mod.ts").Mesh | undefined;
  #tunnel: import("../mesh/mod.ts").TunnelServer | undefined;
  #ca: ClusterCA | undefined;
  #certs: CertIssuer | undefined;
  #api = new AbortController();
  #apiFinished: Promise<void> = Promise.resolve();
  #apiTlsFinished: Promise<void> = Promise.resolve();
  #app: Hono | undefined;
  #admission: AdmissionLeader | undefined;
  /** Where the etcd client connects: it forwards to this node's member or to the voters. */
  #balancer: EtcdBalancer | undefined;
  #follower: RoleFollower | undefined;
  /** What this node keeps of its membership (DATA_DIR/membership.json). */
  #saved: SavedMembership | undefined;
  #role: "voter" | "worker" = "voter";
  /** Serializes role changes: the follower and a leave must not start and stop etcd at once. */
  #roleChange: Promise<void> = Promise.resolve();
  #tuner: EtcdTuner | undefined;
  #desk: JoinDesk | undefined;
  /** A worker's view of its etcd connection (a voter asks its member). */
  #clientOk = false;
  /** Shows the node certificate to the voters' health endpoints. */
  /** With the node's certificate: etcd's /health of the voters, other nodes' TLS API. */
  #healthClient: Deno.HttpClient | undefined;
  /** The token other nodes show when they ask this one for a replica's logs. */
  #peerToken: string | undefined;
  /** The web UI's admin password in etcd (`ui/admin`). */
  readonly #uiAdmin: AdminStore = {
    get: async () => {
      const { store, parts } = this.#etcdOrStarting();
      return (await parts.etcdCall(() => store.get<AdminRecord>(parts.families.ui, "admin")))
        ?.value;
    },
    create: (record) => {
      const { store, parts } = this.#etcdOrStarting();
      return parts.etcdCall(() => store.putIf(parts.families.ui, ["admin"], 0, record));
    },
    replace: (record) => {
      const { store, parts } = this.#etcdOrStarting();
      return parts.etcdCall(() => store.put(parts.families.ui, ["admin"], record));
    },
  };
  #clientProbe: ReturnType<typeof setInterval> | undefined;
  #joining = new AbortController();
  #finder: Finder | undefined;
  #mdns: MdnsDiscovery | undefined;
  #tailscale: LocalApiClient | undefined;
  /** Keeps tailnet split DNS for the domain at the ready nodes (with an API key). */
  #splitDns: SplitDnsKeeper | undefined;
  #foreign: ForeignClusters | undefined;
  /** What the join desk needs, once the control plane is up. */
  #joins:
    | {
      info: { id: string; createdAt: string };
      liveNodes: () => Set<string>;
      membership: ReturnType<typeof etcdMembership>;
    }
    | undefined;
  #tls: NodeCerts | undefined;
  #ready = false;
  #serving = false;
  #stopping = false;
  #rescheduler: ReturnType<typeof setInterval> | undefined;
  /** Checks the node's lease for {@link FENCE_AFTER_MS} and retries claims. */
  #fenceTimer: ReturnType<typeof setInterval> | undefined;
  /** Heartbeats with the other nodes; undefined until etcd is read, or when UDP is unavailable. */
  #beacon: Beacon | undefined;
  /** Whom this node hears, from the heartbeats. */
  #detector: Detector | undefined;
  /** Nodes whose liveness is being revoked now, and those whose last revoke failed. */
  readonly #revoking = new Set<string>();
  readonly #revokeFailing = new Set<string>();
  /** The locks of services with volumes, on their own longer lease (see LOCK_TTL_S). */
  #locks!: LeasedRecords;
  /** Services with volumes whose lock this node holds: only those may run here. */
  readonly #claimed = new Set<string>();
  /** Kills this node's services with volumes if the agent ends without stopping them. */
  #watchdog: FenceWatchdog | undefined;
  /** Claims being asked of etcd now. */
  readonly #claiming = new Set<string>();
  /** Locks being released now. */
  readonly #releasing = new Set<string>();
  /** True while this node has lost contact with etcd for long enough to stop what runs once. */
  #fenced = false;
  /** Reading the state afresh before the fence is lifted. */
  #unfencing: Promise<void> | undefined;
  #lastWanted = new Map<string, WantedReplica>();
  endpoints: AgentEndpoints = { api: 0, http: 0, dns: 0 };
  readonly #left = Promise.withResolvers<void>();
  /** Resolves once this node has left its cluster (`fossora leave`): the process should end. */
  readonly left: Promise<void> = this.#left.promise;
  readonly #gaveWay = Promise.withResolvers<string>();
  /**
   * Resolves with another cluster's id when this node's cluster gives way to it (discovery/
   * merge.ts): the agent should stop, forget its cluster and start again to join that one.
   */
  readonly gaveWay: Promise<string> = this.#gaveWay.promise;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
    readonly options: AgentOptions = {},
  ) {}

  /** Starts every part; resolves once all run (the servers may answer well before). */
  async start(): Promise<void> {
    const c = this.config;
    this.identity = await loadOrCreateIdentity(c.dataDir, c.name);
    this.log.info("starting", { node: this.identity.name, id: this.identity.id, version: VERSION });
    if (c.advertiseAddr.startsWith("127.") && !c.bindAddr.startsWith("127.")) {
      this.log.warn(
        "advertising a loopback address: DNS will answer it to other devices, which cannot " +
          "reach it; pass --advertise-addr with this machine's LAN or Tailscale address",
        { advertiseAddr: c.advertiseAddr },
      );
    }
    // Servers first, from the last known state: after a crash the services that were running
    // answer again while etcd starts and the runtime works through its first pass.
    const snapshots = snapshotFile(`${c.dataDir}/state-snapshot.json`);
    const saved = await loadSnapshot(snapshots, this.log.child("snapshot"));
    if (saved) {
      this.view.use(saved);
      await this.#startServers("snapshot");
    }
    if (this.#stopping) return;
    await this.#startControlPlane(snapshots);
    if (this.#stopping) return;
    if (!this.#serving) await this.#startServers("etcd");
    if (this.#stopping) return;
    await this.#serveJoins();
    if (this.#stopping) return;
    await this.#startRuntime();
    if (this.#stopping) return;
    this.#ready = true;
    await sdNotify("READY=1");
    this.log.info("ready", {
      api: `http://${c.bindAddr}:${this.endpoints.api}`,
      proxy: this.endpoints.http,
      dns: this.endpoints.dns,
      domain: c.domain,
    });
  }

  async #startControlPlane(snapshots: SnapshotStorage): Promise<void> {
    const c = this.config;
    const pki = `${c.dataDir}/pki`;
    let saved = await loadMembership(c.dataDir);
    await this.#startDiscovery(saved?.cluster);
    if (!saved) {
      if (await exists(`${c.dataDir}/etcd`)) {
        if (c.join.length) {
          this.log.warn(
            "this node holds a cluster's data already, so --join is ignored; to join another " +
              "cluster, stop the agent and empty its data dir",
            { dataDir: c.dataDir },
          );
        }
      } else if (c.join.length || this.options.joinCluster || await this.#clusterNearby()) {
        // A new node serves nothing yet, so loading the etcd client's parts costs nothing here.
        this.#parts ??= await import("./parts.ts");
        saved = await this.#join(pki, this.#parts.dockerArch());
        if (this.#stopping) return;
      }
    }
    const founder = !saved || saved.founder;
    let role: Role = saved?.role ?? "voter";
    // The cluster CA and this node's certificate: etcd talks mutual TLS, even on one node. A
    // node that joined holds the CA's certificate only; the leader signed its own.
    let tls: NodeCerts;
    if (founder) {
      this.#ca = await loadOrCreateCA(pki);
      tls = await ensureNodeCerts(pki, this.#ca, {
        nodeName: this.identity.name,
        ips: [c.advertiseAddr],
      });
    } else {
      this.#ca = { certPem: await Deno.readTextFile(`${pki}/ca.crt`), keyPem: "" };
      tls = { caFile: `${pki}/ca.crt`, certFile: `${pki}/node.crt`, keyFile: `${pki}/node.key` };
    }
    this.#tls = tls;
    const parts = this.#parts ??= await import("./parts.ts");
    // A voter that was down long enough to be replaced comes back as a worker: its old member
    // would never be let in again, and its stale data must not be.
    if (role === "voter" && saved && !await this.#stillVoter(saved, tls, parts)) {
      this.log.warn(
        "this node's etcd member was removed while it was away; it rejoins as a worker",
      );
      role = "worker";
      saved = { ...saved, role, initialCluster: undefined };
      await Deno.remove(`${c.dataDir}/etcd`, { recursive: true }).catch(() => {});
      await saveMembership(c.dataDir, saved);
    }
    this.#role = role;
    this.#saved = saved;
    if (role === "voter") {
      const etcd = this.etcd = this.#member(saved?.initialCluster);
      await explain(etcd.start(), {
        notFound:
          `etcd (${c.etcdBin}) is not installed; install Debian's etcd-server or pass --etcd-bin`,
      });
    }
    const {
      connectEtcd,
      dockerArch,
      HostPathReporter,
      LeaderElection,
      LeasedRecords,
      measureUsage,
      Mirror,
      NodePublisher,
      Scheduler,
      Store,
      updatePeerUrl,
      families,
    } = parts;
    // A stop that came while etcd started has stopped it already; a client now would outlive it.
    if (this.#stopping) return;
    // The client dials a local balancer, which forwards to this node's member or to the voters
    // as they change (k3s's agent load balancer): the client itself never has to be rebuilt.
    this.#balancer = new EtcdBalancer({ log: this.log.child("etcd-balancer") });
    this.#useVoters(saved?.clientUrls ?? []);
    await this.#balancer.start();
    this.client = connectEtcd([this.#balancer.url], tls);
    this.store = new Store(this.client);
    if (this.etcd) await updatePeerUrl(this.client, this.identity.id, this.etcd.peerUrl);
    this.#probeClient();
    if (this.etcd) this.#startTuner(this.etcd, tls);
    let info;
    if (founder) {
      info = await this.store.initCluster(
        { id: crypto.randomUUID(), createdAt: new Date().toISOString(), domain: c.domain },
        formatJoinToken(this.#ca.certPem, newSecret()),
      );
      await this.#keepTokenFormat();
      // The CA with its key, for whichever voter leads next: it signs joiners' certificates.
      await this.store.putIf(families.cluster, ["ca"], 0, this.#ca);
      if (!saved) {
        saved = {
          cluster: info.id,
          role: "voter",
          founder: true,
          clientUrls: [this.etcd!.clientUrl],
        };
        await saveMembership(c.dataDir, saved);
      }
      this.#saved = saved;
    } else {
      info = await this.store.clusterInfo();
      if (!info) throw new Error("the cluster this node joined has no cluster record in etcd");
      this.#saved = saved;
    }
    this.log.info("cluster", { id: info.id });
    this.#mdns?.setClusterId(info.id);
    this.#leased = new LeasedRecords({ store: this.store, log: this.log.child("lease") });
    this.#locks = new LeasedRecords({
      store: this.store,
      ttl: LOCK_TTL_S,
      log: this.log.child("locks"),
      // The lease expired: the locks of services with volumes may be other nodes' by now.
      onLost: () => void this.#fence("the lease of its locks expired", true),
    });
    this.#publisher = new NodePublisher({
      leased: this.#leased,
      log: this.log.child("node"),
      addresses6: () => detectAdvertiseAddrs6(c.advertiseAddr),
      usage: () => measureUsage(c.dataDir),
      refreshMs: NODE_REFRESH_MS,
      record: {
        id: this.identity.id,
        name: this.identity.name,
        address: c.advertiseAddr,
        ...await this.#tailnetAddress(),
        capacity: { cpus: navigator.hardwareConcurrency, memory: Deno.systemMemoryInfo().total },
        arch: dockerArch(),
        site: c.site,
        labels: c.labels,
        role,
        version: VERSION,
        apiPort: c.apiPort,
        httpPort: c.httpPort,
        httpsPort: c.httpsPort,
        dnsPort: c.dnsPort,
      },
    });
    await this.#publisher.start();
    this.#snapshots = new SnapshotWriter({
      storage: snapshots,
      source: () => this.mirror.view,
      log: this.log.child("snapshot"),
    });
    this.mirror = new Mirror({
      store: this.store,
      log: this.log.child("mirror"),
      onChange: () => this.#onStateChange(),
    });
    this.#hostPaths = new HostPathReporter({
      services: () => this.mirror.view.services().map((s) => s.spec),
      publish: (paths) => this.#publisher.setHostPaths(paths),
      log: this.log.child("host-paths"),
    });
    this.#scheduler = new Scheduler({
      store: this.store,
      mirror: this.mirror,
      leading: () => this.#election.leading,
      platforms: {
        get: (image) => this.#platforms?.get(image),
        pending: (image) => this.#platforms?.pending(image) ?? false,
      },
      log: this.log.child("scheduler"),
    });
    if (c.tailscaleApiKey) {
      this.#splitDns = new SplitDnsKeeper({
        api: new TailscaleApi(c.tailscaleApiKey, c.tailscaleApiUrl),
        domain: c.domain,
        addresses: () =>
          this.mirror.view.nodes().flatMap((n) =>
            n.state === "ready" && n.tailnetAddress ? [n.tailnetAddress] : []
          ),
        leading: () => this.#election.leading,
        log: this.log.child("split-dns"),
      });
    }
    this.#election = new LeaderElection({
      store: this.store,
      role: "scheduler",
      value: this.identity.id,
      log: this.log.child("election"),
      onChange: () => {
        this.#splitDns?.poke();
        this.#scheduler.poke();
        void this.#certs?.poke();
        this.#admission?.poke();
      },
    });
    const store = this.store;
    const liveNodes = () => new Set(this.mirror.view.nodes().map((n) => n.id));
    const membership = etcdMembership(this.client);
    this.#admission = new AdmissionLeader({
      store,
      membership,
      sign: async (csr, name, ips) => signNodeRequest(await this.#caWithKey(), csr, name, ips),
      liveNodes,
      leading: () => this.#election.leading,
      nodeId: this.identity.id,
      settings: { maxVoters: c.maxVoters },
      log: this.log.child("admission"),
    });
    this.#certs = new CertIssuer({
      domain: c.domain,
      current: () => this.mirror.certs.get(PROXY_CERT),
      // The elected node issues, with the CA key kept in etcd.
      canIssue: () => this.#election.leading && this.#ca !== undefined,
      issue: async (names, days) => issueServerCert(await this.#caWithKey(), names, days),
      store: async (cert, previous) => {
        const now = await store.get<ServingCert>(families.certs, PROXY_CERT);
        if (now?.value.issuedAt !== previous?.issuedAt) return false;
        return await store.putIf(families.certs, [PROXY_CERT], now?.modRevision ?? 0, cert);
      },
      log: this.log.child("certs"),
    });
    await this.mirror.start();
    this.view.use(this.mirror.view);
    this.#hostPaths.start();
    // As soon as there are peers to send to: the other nodes judge this one by its heartbeats
    // only once they have heard it since its record appeared.
    void this.#startHeartbeats();
    this.#tcp?.sync();
    this.#udp?.sync();
    this.#election.start();
    this.#certs.start();
    this.#admission.start();
    await this.#ensureMemberRecord(dockerArch());
    this.#follower = new RoleFollower({
      self: this.identity.id,
      peerUrl: this.#member().peerUrl,
      role: () => this.#role,
      members: () => membership.list(),
      current: async () =>
        (await store.get<CurrentAdmission>(families.admission, ...CURRENT))?.value,
      startMember: (initialCluster) => this.#changeRole(() => this.#becomeVoter(initialCluster)),
      stopMember: (why) => this.#changeRole(() => this.#becomeWorker(why)),
      voters: (urls) => this.#useVoters(urls),
      log: this.log.child("role"),
    });
    this.#follower.start();
    this.#joins = { info, liveNodes, membership };
    this.#watchForeignClusters(info, families);
    // A write the scheduler lost (etcd restarting) is retried even when nothing else changes,
    // and so is a published port that was busy.
    this.#rescheduler = setInterval(() => {
      this.#scheduler.poke();
      this.#tcp?.sync();
      this.#udp?.sync();
      void this.#mesh?.sync();
    }, 10_000);
    this.#fenceTimer = setInterval(() => this.#checkFence(), 250);
  }

  /**
   * Heartbeats with the other nodes over UDP, on the API's port number. A peer that stops is
   * found dead in about {@link DEAD_AFTER_MS} when another node agrees, and its liveness leases
   * are revoked: its replicas move and a role it held is free without waiting for the leases,
   * which a slow link or an etcd election stretches. Without UDP the leases still decide.
   */
  async #startHeartbeats(): Promise<void> {
    const log = this.log.child("heartbeat");
    const c = this.config;
    const self = this.identity.id;
    let key: Uint8Array | undefined;
    const detector = this.#detector = new Detector({ self, deadAfterMs: DEAD_AFTER_MS });
    try {
      this.#beacon = new Beacon({
        self,
        hostname: c.bindAddr,
        port: c.apiPort,
        detector,
        key: () => key,
        peers: () =>
          this.mirror.view.members().filter((m) => m.id !== self && m.leftAt === undefined)
            .map((m) => ({ id: m.id, hostname: m.address, port: m.apiPort })),
        onRound: () => {
          detector.keepOnly(this.mirror.view.members().map((m) => m.id));
          const live = this.mirror.view.nodes().map((n) => n.id);
          const verdicts = detector.dead(live);
          // A node that etcd has not confirmed lately may be the one cut off: it judges nobody.
          if (this.#leased.sinceRenewedMs() > JUDGE_RENEWED_MS) return;
          for (const verdict of verdicts) this.#revokeDead(verdict, detector, log);
        },
        log,
      });
    } catch (err) {
      log.warn(
        `cannot receive heartbeats on UDP port ${c.apiPort}; a dead node is found when its ` +
          "lease expires, seconds later. Free the port (or open it in the firewall)",
        { err },
      );
      return;
    }
    if (this.#stopping) return void this.#beacon.close();
    this.#beacon.start();
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    while (!key && !this.#stopping) {
      try {
        key = new TextEncoder().encode(await this.store.peerToken());
      } catch (err) {
        const delay = backoff.next(Date.now());
        log.debug("cannot read the peer token yet", { err, delay });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  #revokeDead(verdict: Verdict, detector: Detector, log: Logger): void {
    const { node } = verdict;
    if (this.#revoking.has(node)) return;
    this.#revoking.add(node);
    const name = this.mirror.view.nodes().find((n) => n.id === node)?.name ?? node;
    revokeLiveness(this.store, node).then((revoked) => {
      detector.settle(node);
      this.#revokeFailing.delete(node);
      if (!revoked) return;
      const agreed = verdict.confirmedBy.map((id) =>
        this.mirror.view.members().find((m) => m.id === id)?.name ?? id
      );
      log.warn("node sends no heartbeats; its leases are revoked so its replicas move now", {
        node: name,
        silentMs: verdict.silentMs,
        agreed: agreed.join(","),
      });
    }).catch((err) => {
      // Tried again next round (etcd electing a leader after the dead node was its leader);
      // said once a failure streak, since without quorum it fails until quorum is back.
      const first = !this.#revokeFailing.has(node);
      this.#revokeFailing.add(node);
      log[first ? "warn" : "debug"]("cannot revoke a dead node's leases yet", { node: name, err });
    }).finally(() => this.#revoking.delete(node));
  }

  /**
   * A voter's member follows the round trip to its peers (`--etcd-tune-interval`), restarting
   * one member at a time under `admission/tuning/lock`.
   */
  #startTuner(etcd: EtcdSupervisor, tls: NodeCerts): void {
    const seconds = this.config.etcdTuneInterval;
    if (!seconds) return;
    const { EtcdTuner, families, LeaseLock, measurePeers, otherPeerUrls, tlsHandshakeProbe } = this
      .#parts!;
    const probe = tlsHandshakeProbe(tls);
    const log = this.log.child("etcd-timing");
    this.#tuner = new EtcdTuner({
      member: etcd,
      measure: async () =>
        measurePeers(await otherPeerUrls(this.client, this.identity.id), { probe }),
      lock: new LeaseLock({
        store: this.store,
        family: families.admission,
        ids: ["tuning", "lock"],
        // Longer than a restart may take: 10 s to stop, 30 s to become healthy.
        ttlSeconds: 60,
        holder: this.identity.id,
      }),
      intervalMs: seconds * 1000,
      onApplied: async (timing) => {
        log.info("etcd runs with new timing", { ...timing });
        await this.#saveMembership({ etcdTiming: timing });
      },
      log,
    });
    this.#tuner.start();
  }

  /**
   * Joins the cluster that `--join` names: a key made here (it never leaves), a request the
   * leader signs, and the admission's answer (role, certificate, where etcd is) saved.
   */
  async #join(pki: string, arch: string): Promise<SavedMembership> {
    const c = this.config;
    const text = await this.#configuredToken();
    const token = text === undefined ? undefined : parseJoinToken(text);
    if (typeof token === "string") throw new Error(`--token: ${token}`);
    await ensurePrivateDir(pki);
    const keyPath = `${pki}/join.key`;
    const csr = await newKeyAndRequest(keyPath, this.identity.name);
    const log = this.log.child("join");
    log.info("joining a cluster", {
      through: this.#finder?.candidates() ?? c.join,
      token: token ? "given" : "none",
    });
    let last = "";
    const admitted = await joinCluster({
      candidates: () => this.#finder?.candidates() ?? c.join,
      token,
      cluster: this.options.joinCluster,
      request: {
        id: this.identity.id,
        name: this.identity.name,
        address: c.advertiseAddr,
        apiPort: c.apiPort,
        etcdPeerPort: c.etcdPeerPort,
        etcdClientPort: c.etcdClientPort,
        arch,
        site: c.site,
        version: VERSION,
        csr,
      },
      signal: this.#joining.signal,
      log,
      onStatus: (s, contact) => {
        const now = s.status === "queued" || s.status === "pending"
          ? `${s.status}: ${s.message}${s.admitting ? `; admitting ${s.admitting.name}` : ""}`
          : s.status;
        if (now !== last) log.info(now, { contact });
        last = now;
      },
    });
    await installNodeCert(pki, admitted.ca, admitted.cert, keyPath);
    await Deno.remove(keyPath).catch(() => {});
    const saved: SavedMembership = {
      cluster: admitted.cluster,
      role: admitted.role,
      founder: false,
      clientUrls: admitted.clientUrls,
      initialCluster: admitted.initialCluster,
    };
    await saveMembership(c.dataDir, saved);
    log.info("admitted", { cluster: admitted.cluster, role: admitted.role });
    return saved;
  }

  /** What `fossora nodes rm` and `fossora leave` do. */
  #controlPlane(): ControlPlane | undefined {
    if (!this.#joins || !this.#parts) return undefined;
    const { families } = this.#parts;
    const { membership, liveNodes } = this.#joins;
    const store = this.store;
    const records = async () =>
      (await store.list<MemberRecord>(families.members)).map((r) => r.value);
    const event = (r: MemberRecord, event: "removed" | "leaving" | "left", detail: string) =>
      appendEvent(store, {
        at: Date.now(),
        id: r.id,
        name: r.name,
        event,
        detail,
        by: this.identity.id,
      });
    return {
      removeNode: async (name) => {
        const r = (await records()).find((x) => x.name === name);
        if (!r) {
          throw new ApiError(
            404,
            "no_node",
            `no node is named ${JSON.stringify(name)}; see fossora nodes`,
          );
        }
        if (liveNodes().has(r.id)) {
          throw new ApiError(
            409,
            "node_running",
            `${name} is running: run \`fossora leave\` on it, or stop its agent and try again`,
          );
        }
        const member = (await membership.list()).find((m) =>
          m.name === r.id || m.peerUrls.includes(peerUrlOf(r))
        );
        if (member) {
          await membership.remove(member.id).catch((err) => {
            throw new ApiError(
              409,
              "etcd_refused",
              `etcd refused to remove ${name}'s member (${(err as Error).message}); ` +
                "bring a voter back up first",
            );
          });
        }
        await store.delete(families.members, r.id);
        await event(r, "removed", `by a person (fossora nodes rm), on ${this.identity.name}`);
        this.#admission?.poke();
        return {
          removed: name,
          message: `${name} is forgotten; a machine with its name may join anew`,
        };
      },
      leave: () => this.#leave(records, event),
      leaveOther: async (name) => {
        const n = this.mirror.view.nodes().find((x) => x.name === name && x.state === "ready");
        if (!n) {
          throw new ApiError(
            404,
            "no_node",
            `no running node is named ${JSON.stringify(name)}; a node that is down cannot ` +
              "leave by itself: remove it instead (fossora nodes rm NAME)",
          );
        }
        const res = await this.#peerFetch(n, "/api/v1/leave", {
          method: "POST",
          signal: AbortSignal.timeout(LEAVE_DRAIN_MS + LEAVE_TIMEOUT_MS + 30_000),
        });
        const body = await res.json().catch(() => undefined);
        if (!res.ok) {
          throw new ApiError(
            res.status >= 500 ? 502 : res.status,
            body?.error?.code ?? "leave_failed",
            `${name} did not leave: ${body?.error?.message ?? `it answered ${res.status}`}`,
          );
        }
        return body as { left: string; message: string };
      },
      drain: (name) => this.#drain(name, true),
      undrain: (name) => this.#drain(name, false),
    };
  }

  /**
   * Drains a node (no new replicas; the scheduler moves its replicas away one at a time, each
   * new copy ready before the old one stops) or undoes it; tells it as an event.
   */
  async #drain(name: string, drain: boolean): Promise<DrainAnswer> {
    const { families } = this.#parts!;
    const member = this.mirror.view.members().find((m) => m.name === name && !m.leftAt);
    if (!member) {
      throw new ApiError(
        404,
        "no_node",
        `no node is named ${JSON.stringify(name)}; see fossora nodes`,
      );
    }
    const was = this.mirror.view.drain(member.id) !== undefined;
    if (was === drain) {
      return {
        node: name,
        drained: drain,
        message: drain ? `${name} is drained already` : `${name} is not drained`,
      };
    }
    const record: DrainRecord = { node: member.id, since: new Date().toISOString() };
    await this.#write(async () => {
      if (drain) await this.store.put(families.drain, [member.id], record);
      else await this.store.delete(families.drain, member.id);
      const kind = drain ? "drained" : "undrained";
      const message = drain
        ? `${name} drained: its replicas move away, and no new ones go there`
        : `${name} undrained: it takes replicas again`;
      const e = makeEvent({ kind, node: name, message });
      await this.store.put(families.events, [e.id], e);
    });
    return {
      node: name,
      drained: drain,
      message: drain
        ? `${name} is drained: its replicas move away one at a time, each new copy ready ` +
          "before the old one stops (a service with volumes stops first, then starts elsewhere)"
        : `${name} is undrained: new replicas may go there (running ones stay where they are)`,
    };
  }

  /**
   * Leaves the cluster: this node is drained (its replicas move away, each new copy ready
   * before the old one stops), its record is marked leaving, the leader moves its vote to
   * another node (keeping the voter count) and removes it, and then this node forgets the
   * cluster.
   */
  async #leave(
    records: () => Promise<MemberRecord[]>,
    event: (r: MemberRecord, e: "leaving" | "left", detail: string) => Promise<void>,
  ): Promise<{ left: string; message: string }> {
    const { families } = this.#parts!;
    const id = this.identity.id;
    const all = await records();
    const mine = all.find((r) => r.id === id);
    const others = all.filter((r) => r.id !== id && !r.leftAt);
    if (!mine) {
      throw new ApiError(409, "not_member", "this node has no member record; is it joining?");
    }
    if (!others.length) {
      throw new ApiError(
        409,
        "only_node",
        "this is the cluster's only node, so leaving would end the cluster; to do that, stop the " +
          "agent and empty its data dir",
      );
    }
    await this.#drainForLeave();
    if (!mine.leaving) {
      await this.store.put(families.members, [id], { ...mine, leaving: true });
      await event(mine, "leaving", "asked on this node (fossora leave)");
    }
    this.#admission?.poke();
    const deadline = Date.now() + LEAVE_TIMEOUT_MS;
    const membership = this.#joins!.membership;
    const peer = this.#member().peerUrl;
    // When its member is removed, this node's etcd client moves to the other voters: for a
    // moment its calls fail, and they are tried again until the deadline.
    const retried = async <T>(call: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await call();
        } catch (err) {
          if (Date.now() > deadline || this.#stopping) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    for (;;) {
      const now = (await records().catch(() => undefined))?.find((r) => r.id === id);
      const members = await membership.list().catch(() => undefined);
      const voting = members?.some((m) => m.name === id || m.peerUrls.includes(peer));
      // A worker has no vote to hand over; a voter waits until the leader has moved it.
      if (now?.leftAt || (members && !voting)) break;
      if (this.#stopping) {
        throw new ApiError(503, "stopping", "the agent is stopping; run fossora leave again after");
      }
      if (Date.now() > deadline) {
        throw new ApiError(
          504,
          "leave_timeout",
          "the cluster did not take this node's vote in time (is a voter down?); " +
            "run fossora leave again once fossora nodes shows every voter ready",
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await this.#changeRole(() => this.#becomeWorker("it left the cluster"));
    const now = (await retried(records)).find((r) => r.id === id) ?? mine;
    if (!now.leftAt) {
      await retried(() => this.store.put(families.members, [id], { ...now, leftAt: Date.now() }));
      await retried(() => event(now, "left", "its membership is removed"));
    }
    // A machine that joins again with this identity is not drained.
    await this.store.delete(families.drain, id).catch(() => {});
    // The answer goes out first; then the agent stops and forgets the cluster.
    setTimeout(() => this.#left.resolve(), 200);
    return {
      left: this.identity.name,
      message: "this node left the cluster; its agent stops now and forgets the cluster " +
        "(its containers keep running); started again, it looks for a cluster to join",
    };
  }

  /**
   * Drains this node and waits until no replica is assigned to it, or {@link LEAVE_DRAIN_MS}
   * have passed: a service with nowhere else to go (placement) stays, and the leave goes on.
   */
  async #drainForLeave(): Promise<void> {
    if (!this.mirror.view.drain(this.identity.id)) await this.#drain(this.identity.name, true);
    const id = this.identity.id;
    // Assigned here, or still running here (an old copy stops after its new one is ready).
    const mine = () => [
      ...[...this.mirror.assignments.values()].filter((a) => a.node === id || a.previous === id),
      ...this.mirror.view.services().flatMap((s) =>
        this.mirror.view.replicasOf(s.spec.name).filter((r) => r.node === id)
      ),
    ];
    const deadline = Date.now() + LEAVE_DRAIN_MS;
    while (mine().length && Date.now() < deadline && !this.#stopping) {
      await new Promise((r) => setTimeout(r, 500));
    }
    const left = mine();
    if (left.length) {
      this.log.warn("leaving with replicas that could not move", {
        replicas: left.map((a) => `${a.service}/${a.replica}`),
      });
    }
  }

  /**
   * Until the web UI has an admin password, the log says the first-run code, which the UI asks
   * for so that only someone who can read this log (or run `fossora ui setup-code`) sets it.
   */
  async #sayUiSetupCode(): Promise<void> {
    const secret = this.#peerToken;
    if (!secret) return;
    try {
      if (await this.#uiAdmin.get()) return;
      this.log.info("the web UI has no admin password yet: open it and give this setup code", {
        ui: `http://${this.config.advertiseAddr}:${this.endpoints.api}/`,
        setupCode: setupCode(secret),
      });
    } catch (err) {
      this.log.warn("cannot tell whether the web UI has an admin password", { err });
    }
  }

  /**
   * A replica's logs from the node that runs it: its API over TLS (the cluster CA vouches for
   * it), with the cluster's peer token, asking for that node's own copy only.
   */
  async #remoteLogs(
    service: string,
    replica: number,
    node: string,
    opts: LogOptions,
  ): Promise<ReadableStream<Uint8Array>> {
    const n = this.mirror.view.node(node);
    const where = n?.name ?? node;
    if (!n?.apiTlsPort || !this.#tls) {
      throw new ApiError(
        502,
        "node_unreachable",
        n
          ? `replica ${replica} of ${service} runs on ${where}, whose agent is too old to share logs`
          : `replica ${replica} of ${service} runs on ${where}, which is down`,
      );
    }
    const q = new URLSearchParams({ replica: String(replica), local: "1" });
    if (opts.follow) q.set("follow", "1");
    if (opts.tail !== undefined) q.set("tail", String(opts.tail));
    const res = await this.#peerFetch(
      n,
      `/api/v1/services/${encodeURIComponent(service)}/logs?${q}`,
      { signal: opts.signal },
    );
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => undefined);
      throw new ApiError(
        502,
        "logs_unavailable",
        `${where} answered ${res.status}: ${body?.error?.message ?? "no logs"}`,
      );
    }
    return res.body;
  }

  /**
   * Asks another node's TLS API, as a node (its certificate and the peer token); a node that
   * cannot be reached is a 502 that names it.
   */
  async #peerFetch(n: NodeRecord, path: string, init: RequestInit): Promise<Response> {
    if (!n.apiTlsPort || !this.#tls) {
      throw new ApiError(502, "node_unreachable", `${n.name}'s agent does not serve other nodes`);
    }
    this.#peerToken ??= await this.#etcdOrStarting().parts.etcdCall(() => this.store.peerToken());
    this.#healthClient ??= await nodeHttpClient(this.#tls);
    try {
      return await fetch(`https://${n.address}:${n.apiTlsPort}${path}`, {
        ...init,
        client: this.#healthClient,
        headers: { authorization: `Bearer ${this.#peerToken}` },
      });
    } catch (err) {
      throw new ApiError(
        502,
        "node_unreachable",
        `cannot reach ${n.name}: ${(err as Error).message}`,
      );
    }
  }

  /** After a leave: what tied this node to the cluster goes; its identity stays. */
  async forgetCluster(): Promise<void> {
    const dir = this.config.dataDir;
    for (const p of ["membership.json", "etcd", "pki", "state-snapshot.json"]) {
      await Deno.remove(`${dir}/${p}`, { recursive: true }).catch(() => {});
    }
  }

  /** This node's etcd member (not started): for a voter, or one the leader is adding. */
  #member(initialCluster?: string): EtcdSupervisor {
    const c = this.config;
    return new EtcdSupervisor({
      tls: this.#tls,
      bin: c.etcdBin,
      dataDir: `${c.dataDir}/etcd`,
      name: this.identity.id,
      clientPort: c.etcdClientPort,
      peerPort: c.etcdPeerPort,
      host: c.advertiseAddr,
      listenHost: c.bindAddr,
      initialCluster,
      // The timing it was last tuned to, so a restart does not fall back to etcd's defaults.
      heartbeatMs: this.#saved?.etcdTiming?.heartbeatMs,
      electionMs: this.#saved?.etcdTiming?.electionMs,
      log: this.log.child("etcd"),
    });
  }

  /**
   * Whether this voter is still a member, as the other voters last saved tell: false only when
   * one of them answers with a member list that leaves this node out. No answer (they are down
   * too, or this node is the only voter) keeps it a voter.
   */
  async #stillVoter(saved: SavedMembership, tls: NodeCerts, parts: Parts): Promise<boolean> {
    const own = this.#member();
    const others = saved.clientUrls.filter((u) => u !== own.clientUrl && u !== own.localClientUrl);
    if (!others.length) return true;
    const client = parts.connectEtcd(others, tls);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const members = await Promise.race([
        etcdMembership(client).list(),
        new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), STILL_VOTER_MS)),
      ]).catch(() => undefined);
      if (!members?.length) return true;
      return members.some((m) => m.name === this.identity.id || m.peerUrls.includes(own.peerUrl));
    } finally {
      clearTimeout(timer);
      client.close();
    }
  }

  /**
   * Points the balancer at the voters and saves them. This node's member comes first once it
   * votes (it is among `urls`, or it is alone: a founder); a learner serves no clients yet.
   */
  #useVoters(urls: string[]): void {
    const local = this.etcd;
    const remote = urls.filter((u) => u !== local?.clientUrl && u !== local?.localClientUrl);
    const votes = local && (urls.length === 0 || urls.length > remote.length);
    const endpoints = votes ? [local.localClientUrl, ...remote] : remote;
    this.#balancer?.setEndpoints(endpoints, votes ? local.localClientUrl : undefined);
    const saved = this.#saved;
    const wanted = [...new Set(urls.length ? urls : saved?.clientUrls ?? [])].sort();
    if (!saved || !urls.length || JSON.stringify(wanted) === JSON.stringify(saved.clientUrls)) {
      return;
    }
    this.#saved = { ...saved, clientUrls: wanted };
    saveMembership(this.config.dataDir, this.#saved).catch((err) =>
      this.log.warn("cannot save the voters' addresses", { err })
    );
  }

  /** Runs one role change at a time. */
  #changeRole(change: () => Promise<void>): Promise<void> {
    const next = this.#roleChange.then(() => this.#stopping ? undefined : change());
    this.#roleChange = next.catch(() => {});
    return next;
  }

  /** The leader added this worker as a learner: start a member from empty data, and vote. */
  async #becomeVoter(initialCluster: string): Promise<void> {
    if (this.#role === "voter") return;
    const c = this.config;
    await Deno.remove(`${c.dataDir}/etcd`, { recursive: true }).catch(() => {});
    const etcd = this.#member(initialCluster);
    try {
      await etcd.start();
    } catch (err) {
      await etcd.stop();
      await Deno.remove(`${c.dataDir}/etcd`, { recursive: true }).catch(() => {});
      throw err;
    }
    this.etcd = etcd;
    this.#role = "voter";
    await this.#saveMembership({ role: "voter", initialCluster });
    this.#startTuner(etcd, this.#tls!);
    this.#useVoters(this.#saved?.clientUrls ?? []);
    await this.#publisher.setRole("voter");
    this.log.info("this node is an etcd voter now");
  }

  /** This node's member was removed: stop it, drop its data, go on as a client of the voters. */
  async #becomeWorker(why: string): Promise<void> {
    const etcd = this.etcd;
    if (this.#role === "worker" || !etcd) return;
    this.etcd = undefined;
    this.#role = "worker";
    const others = (this.#saved?.clientUrls ?? []).filter((u) => u !== etcd.clientUrl);
    this.#useVoters(others);
    await this.#tuner?.stop();
    this.#tuner = undefined;
    await etcd.stop();
    await Deno.remove(`${this.config.dataDir}/etcd`, { recursive: true }).catch(() => {});
    await this.#saveMembership({
      role: "worker",
      initialCluster: undefined,
      clientUrls: others,
      etcdTiming: undefined,
    });
    await this.#publisher.setRole("worker").catch(() => {});
    this.log.info("this node is a worker now", { why });
  }

  async #saveMembership(change: Partial<SavedMembership>): Promise<void> {
    if (!this.#saved) return;
    this.#saved = { ...this.#saved, ...change };
    await saveMembership(this.config.dataDir, this.#saved);
  }

  /**
   * This node's lasting record (`members/<id>`): the leader writes it when it admits a node; a
   * founder, and a node from before these records, write their own.
   */
  async #ensureMemberRecord(arch: string): Promise<void> {
    const c = this.config;
    const { families } = this.#parts!;
    const old = await this.store.get<MemberRecord>(families.members, this.identity.id);
    const mine = {
      name: this.identity.name,
      address: c.advertiseAddr,
      site: c.site,
      arch,
      apiPort: c.apiPort,
      etcdPeerPort: c.etcdPeerPort,
      etcdClientPort: c.etcdClientPort,
    };
    const record: MemberRecord = old
      ? { ...old.value, ...mine }
      : { id: this.identity.id, ...mine, role: this.#role, joinedAt: Date.now() };
    if (old && JSON.stringify(old.value) === JSON.stringify(record)) return;
    await this.store.putIf(families.members, [this.identity.id], old?.modRevision ?? 0, record);
  }

  /** The CA with its private key: this node's own, or the copy the founder put in etcd. */
  async #caWithKey(): Promise<ClusterCA> {
    if (this.#ca?.keyPem) return this.#ca;
    const { families } = this.#parts!;
    const stored = await this.store.get<ClusterCA>(families.cluster, "ca");
    if (!stored?.value.keyPem) throw new Error("the cluster CA's key is not in etcd");
    return this.#ca = stored.value;
  }

  /** A token from before join tokens named their CA is replaced by one that does. */
  async #keepTokenFormat(): Promise<void> {
    const current = await this.store.joinToken();
    if (current && typeof parseJoinToken(current) !== "string") return;
    const { families } = this.#parts!;
    await this.store.put(
      families.cluster,
      ["join-token"],
      formatJoinToken(this.#ca!.certPem, newSecret()),
    );
    this.log.info("the join token now names the cluster CA (FOSSORA-1-…); see fossora token");
  }

  /** A worker has no member to ask: it checks its connection to the voters every 2 s. */
  #probeClient(): void {
    const probe = async () => {
      this.#clientOk = await this.store.clusterInfo().then(() => true, () => false);
    };
    void probe();
    this.#clientProbe = setInterval(probe, 2000);
  }

  /** etcd answers: this node's member (a voter) or the voters (a worker). */
  #etcdHealthy(): boolean {
    return this.etcd ? this.etcd.healthy : this.#clientOk;
  }

  /**
   * A change to the cluster state. With etcd known unhealthy, the voters are asked first and a
   * lost quorum is refused at once, so no write is left pending to land later; a write that fails
   * or hangs is explained the same way.
   */
  async #write<T>(call: () => Promise<T>): Promise<T> {
    const { parts } = this.#etcdOrStarting();
    if (!this.#etcdHealthy()) {
      const why = await this.#quorumProblem();
      if (why) throw why;
    }
    return await parts.etcdCall(call, () => this.#quorumProblem());
  }

  /** `quorum_lost`, saying which voters are missing, when the voters lack a majority. */
  async #quorumProblem(): Promise<ApiError | undefined> {
    const parts = this.#parts;
    const tls = this.#tls;
    if (!parts || !tls) return undefined;
    // A promotion reaches the node's own record before its member record: a voter by either.
    const view = this.mirror.view;
    const members = new Map(view.members().map((m) => [m.id, m]));
    const ids = new Set([
      ...view.members().filter((m) => m.role === "voter" && m.leftAt === undefined).map((m) =>
        m.id
      ),
      ...view.nodes().filter((n) => n.role === "voter").map((n) => n.id),
    ]);
    const voters = [...ids].flatMap((id) => {
      const m = members.get(id);
      return m ? [{ name: m.name, url: `https://${m.address}:${m.etcdClientPort}` }] : [];
    });
    this.#healthClient ??= await nodeHttpClient(tls);
    const client = this.#healthClient;
    const health = await parts.probeVoters(
      voters,
      (url, signal) => fetch(url, { client, signal }),
      1500,
    );
    const why = parts.quorumLost(health);
    return why ? new ApiError(503, "quorum_lost", why) : undefined;
  }

  /**
   * The API's TLS port behind a front that serves tailscaled's certificate to clients asking for
   * this node's MagicDNS name, and the node certificate to the rest.
   */
  async #serveTlsFront(
    tailscale: LocalApiClient,
    fallback: TlsPair,
    o: { hostname: string; port: number; signal: AbortSignal },
  ): Promise<{ port: number; finished: Promise<void> }> {
    const log = this.log.child("tls");
    const front = new TlsFront({ app: this.#app!, ...o, fallback, log });
    const port = await front.start();
    const keeping = keepTailnetCert({
      client: tailscale,
      use: (name, pair) => front.setNamed(name, { cert: pair.certPem, key: pair.keyPem }),
      log,
      signal: o.signal,
    });
    return { port, finished: Promise.all([front.finished, keeping]).then(() => {}) };
  }

  /** Takes join requests: the desk behind the API's join routes, and the API over TLS. */
  async #serveJoins(): Promise<void> {
    if (!this.#joins) return;
    const { info, liveNodes, membership } = this.#joins;
    const c = this.config;
    const tls = this.#tls!;
    const pair = {
      cert: await Deno.readTextFile(tls.certFile),
      key: await Deno.readTextFile(tls.keyFile),
    };
    const options = { hostname: c.bindAddr, port: c.apiTlsPort, signal: this.#api.signal };
    // With tailscaled, the port also serves its certificate for the MagicDNS name.
    const served = this.#tailscale
      ? await this.#serveTlsFront(this.#tailscale, pair, options)
      : await serveApi(this.#app!, { ...options, tls: pair });
    this.#apiTlsFinished = served.finished;
    this.endpoints = { ...this.endpoints, apiTls: served.port };
    await this.#publisher?.setApiTlsPort(served.port).catch((err) =>
      this.log.warn("cannot publish the API's TLS port; other nodes cannot read logs here", { err })
    );
    this.#peerToken = await this.store.peerToken().catch(() => undefined);
    await this.#sayUiSetupCode();
    this.#desk = new JoinDesk({
      store: () => this.store,
      nodeName: this.identity.name,
      tlsPort: served.port,
      clusterInfo: () => Promise.resolve(info),
      caCertPem: () => this.#ca!.certPem,
      joinToken: () => this.store.joinToken(),
      members: () => membership.list(),
      liveNodes,
      liveNames: () => new Map(this.mirror.view.nodes().map((n) => [n.name, n.id])),
      contacts: () => this.mirror.view.nodes().map((n) => `http://${n.address}:${n.apiPort}`),
      empty: () => this.mirror.view.services().length === 0,
      poke: () => this.#admission?.poke(),
      tailnetTrust: this.#tailscale &&
        ((from) => tailnetJoinerTrust(this.#tailscale!, from, c.tailscaleTag)),
    });
  }

  /**
   * Starts looking for other nodes (`--discovery`): mDNS announces this node and browses, the
   * tailnet's peers are probed. A failure of one source is logged, never fatal.
   */
  async #startDiscovery(cluster: string | undefined): Promise<void> {
    const c = this.config;
    if (c.discovery.includes("tailscale")) {
      this.#tailscale = new LocalApiClient({ socketPath: c.tailscaleSocket, timeoutMs: 2000 });
    }
    if (c.discovery.includes("mdns")) {
      try {
        if (c.apiPort === 0) throw new Error("the API port is chosen at random (--api-port 0)");
        this.#mdns = new MdnsDiscovery({
          name: this.identity.name,
          id: this.identity.id,
          advertiseAddress: c.advertiseAddr,
          interfaceAddress: c.mdnsAddr,
          apiPort: c.apiPort,
          clusterId: cluster,
          log: this.log.child("mdns"),
        });
        await this.#mdns.start();
      } catch (err) {
        this.log.warn("mDNS discovery is off", { why: String((err as Error)?.message ?? err) });
        this.#mdns = undefined;
      }
    }
    this.#finder = new Finder({
      static: c.join,
      mdns: this.#mdns,
      tailscale: this.#tailscale && { client: this.#tailscale, apiPort: c.apiPort || 7440 },
      log: this.log.child("discovery"),
    });
    this.#finder.start();
  }

  /**
   * Watches for other clusters that discovery shows (discovery/foreign.ts): warns about one that
   * runs services beside this one, and gives way to one that outranks this one.
   */
  #watchForeignClusters(info: { id: string; createdAt: string }, families: Parts["families"]) {
    if (!this.#mdns && !this.#tailscale) return;
    const c = this.config;
    this.#foreign = new ForeignClusters({
      mine: async () => ({
        id: info.id,
        created: info.createdAt,
        empty: (await this.store.list(families.services)).length === 0,
      }),
      peers: () => this.#finder?.peers() ?? [],
      own: () =>
        new Set([
          `${c.advertiseAddr}:${c.apiPort}`,
          ...this.mirror.view.nodes().map((n) => `${n.address}:${n.apiPort}`),
        ]),
      onGiveWay: (to) => {
        this.log.warn(
          "this cluster has no services and another one outranks it: this node forgets its " +
            "cluster and joins that one",
          { cluster: to.id, node: to.node, at: to.address, empty: to.empty, created: to.created },
        );
        this.#gaveWay.resolve(to.id);
      },
      log: this.log.child("merge"),
    });
    this.#foreign.start();
  }

  /**
   * A new node looks around before founding a cluster of its own; of new nodes that see each
   * other, only the one with the smallest id founds (discovery/founding.ts).
   */
  async #clusterNearby(): Promise<boolean> {
    if (!this.#mdns && !this.#tailscale) return false;
    const finder = this.#finder!;
    const step = await decideFounding({
      self: this.identity.id,
      windowMs: DISCOVERY_WINDOW_MS,
      patienceMs: FOUNDER_PATIENCE_MS,
      look: () => ({ clusters: finder.candidates().length, lone: finder.loneNodes() }),
      signal: this.#joining.signal,
      onWait: (why) => this.log.info("not founding a cluster yet", { why }),
    });
    const join = step.do === "join";
    this.log.info(join ? "found a cluster nearby; joining it" : "no cluster nearby; founding one", {
      candidates: finder.candidates(),
      ...(join ? {} : { why: step.why }),
    });
    return join;
  }

  async #configuredToken(): Promise<string | undefined> {
    if (this.config.token) return this.config.token;
    if (this.config.tokenFile) return (await Deno.readTextFile(this.config.tokenFile)).trim();
    return undefined;
  }

  async #startRuntime(): Promise<void> {
    const id = this.identity.id;
    const { families } = this.#parts ??= await import("./parts.ts");
    const { createDockerApi, dependencyWait, MountedFiles, Runtime, startFenceWatchdog } = this
      .#runtimeModule ??= await import("../runtime/mod.ts");
    const docker = createDockerApi(this.config.dockerHost);
    this.#platforms = new this.#parts.ImagePlatforms({
      lookup: (image, signal) => docker.platforms(image, signal),
      onLearned: () => this.#scheduler?.poke(),
      log: this.log.child("platforms"),
    });
    this.#mesh = await this.#startMesh();
    const mesh = this.#mesh;
    this.runtime = new Runtime({
      docker,
      nodeId: id,
      address: this.config.advertiseAddr,
      attach: (spec) => mesh.attach(spec),
      log: this.log.child("runtime"),
      // Failures are thrown back: the runtime retries a status it could not write.
      report: (s) => this.#leased.put(families.replicas, [id, s.service, String(s.replica)], s),
      forget: (service, replica) =>
        this.#leased.delete(families.replicas, [id, service, String(replica)]),
      waitFor: (spec) => dependencyWait(this.view, spec),
      files: new MountedFiles(`${this.config.dataDir}/files`, async (stack, key) => {
        const { store, parts } = this.#etcdOrStarting();
        const file = await parts.etcdCall(() =>
          store.get<{ content?: unknown }>(families.secrets, stack, key)
        );
        return typeof file?.value?.content === "string" ? file.value.content : undefined;
      }),
    });
    try {
      this.#watchdog = startFenceWatchdog(id, this.config.dockerHost);
    } catch (err) {
      this.log.warn(
        "no watchdog for services with volumes (is the docker client installed?): if this " +
          "agent crashes, they may run on two nodes until it is back",
        { err },
      );
    }
    // A service with volumes still running from before a restart keeps its container: its
    // lock is this node's, taken over before the runtime first looks (a few seconds at most).
    await Promise.race([this.#syncClaims(), new Promise((r) => setTimeout(r, 5000))]);
    this.#updateWanted();
    await this.runtime.start();
  }

  /**
   * The stack mesh: stack networks and virtual addresses here, and the tunnel other nodes reach
   * this node's stack containers through (mutual TLS with the node certificates). A tunnel that
   * cannot listen leaves the stacks working within this node only, and says so.
   */
  async #startMesh(): Promise<import("../mesh/mod.ts").Mesh> {
    const c = this.config;
    const m = await import("../mesh/mod.ts");
    let dial: import("../mesh/mod.ts").TunnelDial | undefined;
    let mesh: import("../mesh/mod.ts").Mesh | undefined = undefined;
    const tls = this.#tls;
    if (tls) {
      try {
        const [caPem, certPem, keyPem] = await Promise.all(
          [tls.caFile, tls.certFile, tls.keyFile].map((f) => Deno.readTextFile(f)),
        );
        const id = { caPem, certPem, keyPem };
        const auth = new m.TunnelAuth(id);
        dial = { ...id, auth };
        this.#tunnel = new m.TunnelServer({
          auth,
          self: c.advertiseAddr,
          hostname: c.bindAddr,
          port: c.meshPort,
          certPem,
          keyPem,
          refuse: (req) => mesh ? mesh.refuse(req) : "this node is starting",
          relay: m.relayWithRest,
          log: this.log.child("tunnel"),
        });
        const port = this.#tunnel.start();
        await this.#publisher?.setMeshPort(port).catch((err) =>
          this.log.warn("cannot publish the mesh port; other nodes cannot reach stacks here", {
            err,
          })
        );
      } catch (err) {
        this.#tunnel = undefined;
        this.log.warn(
          "the stack mesh's tunnel does not listen: a stack's services reach only replicas " +
            "on their own node; free the port or pass --mesh-port",
          { port: c.meshPort, err },
        );
      }
    }
    // Containers ask the node's DNS (on their network's gateway) when it serves on port 53
    // on every address, so NAME.DOMAIN resolves inside them.
    const dnsEverywhere = c.dnsPort === 53 && (c.bindAddr === "0.0.0.0" || c.bindAddr === "::");
    mesh = new m.Mesh({
      view: this.view,
      self: this.identity.id,
      networks: m.createStackNetworks(c.dockerHost, this.identity.id),
      addresses: m.loopbackAddresses,
      tunnel: () => dial,
      dns: (n) => dnsEverywhere && n.gateway ? [n.gateway] : [],
      metrics: this.metrics,
      log: this.log.child("mesh"),
    });
    await mesh.start();
    return mesh;
  }

  /**
   * The replicas assigned to this node, or moving off it, with the spec of their generation:
   * the service's, or the one before it for a replica an update has not rolled yet; else what
   * the replica was given last.
   */
  #wanted(): WantedReplica[] {
    const out: WantedReplica[] = [];
    const next = new Map<string, WantedReplica>();
    for (const a of this.mirror.assignments.values()) {
      const svc = this.mirror.view.service(a.service);
      // A replica moving away keeps running here until its new copy is ready (`previous`).
      const mine = a.node === this.identity.id || a.previous === this.identity.id;
      if (!mine || !svc) continue;
      // A service with volumes runs only where its lock is held, and not while fenced.
      if (svc.spec.volumes.length > 0 && (this.#fenced || !this.#claimed.has(a.service))) {
        continue;
      }
      const key = `${a.service}/${a.replica}`;
      const spec = svc.generation === a.generation
        ? svc.spec
        : svc.previous?.generation === a.generation
        ? svc.previous.spec
        : undefined;
      const w = spec
        ? { service: a.service, replica: a.replica, generation: a.generation, spec }
        : this.#lastWanted.get(key);
      if (!w) continue;
      next.set(key, w);
      out.push(w);
    }
    this.#lastWanted = next;
    return out;
  }

  /**
   * Services with volumes that should run here: assigned to this node. The lock of each is
   * claimed before it may start (a copy elsewhere holds it until it has stopped); the lock of
   * one that no longer runs here is released.
   */
  #syncClaims(): Promise<void> {
    if (!this.#locks || !this.#parts || this.#fenced) return Promise.resolve();
    const attempts: Promise<void>[] = [];
    const { families } = this.#parts;
    const id = this.identity.id;
    const wanted = new Set(
      [...this.mirror.assignments.values()]
        .filter((a) => a.node === id && this.mirror.view.service(a.service)?.spec.volumes.length)
        .map((a) => a.service),
    );
    for (const service of wanted) {
      if (this.#claimed.has(service) || this.#claiming.has(service)) continue;
      this.#claiming.add(service);
      const claim = { node: id, since: new Date().toISOString() };
      attempts.push(
        this.#locks.claim(families.locks, [service], claim).then((held) => {
          if (!held || this.#fenced) return;
          this.#claimed.add(service);
          this.log.info("holds the lock of a service with volumes; starting it", { service });
          this.#updateWanted();
        })
          .catch((err) => this.log.debug("cannot claim a service's lock yet", { service, err }))
          .finally(() => this.#claiming.delete(service)),
      );
    }
    for (const service of this.#claimed) {
      // Released only once its container is gone, not when it stops being wanted: a stop
      // takes its grace period, and the next node must not start before it has ended.
      if (wanted.has(service) || this.runtime?.holds(service) !== false) continue;
      if (this.#releasing.has(service)) continue;
      this.#releasing.add(service);
      // Forgotten only once etcd confirms: this node keeps its lease alive, so a lock whose
      // release failed would otherwise keep the service from starting anywhere.
      this.#locks.release(families.locks, [service])
        .then(() => this.#claimed.delete(service))
        .catch((err) => this.log.warn("cannot release a service's lock yet", { service, err }))
        .finally(() => this.#releasing.delete(service));
    }
    return Promise.all(attempts).then(() => {});
  }

  /**
   * Stops every service with volumes here at once: this node cannot prove it still holds their
   * locks, and another node may start them as soon as its lease expires.
   */
  async #fence(why: string, locksLost = false): Promise<void> {
    const stateful = [...this.#claimed];
    // Without word from etcd the locks are still this node's until their lease expires, and
    // must be released once the link is back (the service may have been moved meanwhile).
    if (locksLost) this.#claimed.clear();
    if (!this.#fenced) {
      this.#fenced = true;
      this.log.warn("stopping the services with volumes here: " + why, { services: stateful });
    }
    this.#updateWanted();
    await Promise.all(stateful.map((s) => this.runtime?.kill(s)));
  }

  /**
   * This node's Tailscale IPv4 for its record, from tailscaled when it runs, else the advertise
   * address when it is one (100.64.0.0/10); nothing when neither.
   */
  async #tailnetAddress(): Promise<{ tailnetAddress?: string }> {
    const status = await this.#tailscale?.status({ peers: false }).catch(() => undefined);
    const fromTailscaled = status && tailscaleAdvertiseAddr(status);
    if (fromTailscaled) return { tailnetAddress: fromTailscaled };
    const [a, b] = this.config.advertiseAddr.split(".").map(Number);
    return a === 100 && b >= 64 && b < 128 ? { tailnetAddress: this.config.advertiseAddr } : {};
  }

  /** Kills every container of a service with volumes here (the agent stops). */
  async #killStateful(): Promise<void> {
    const stateful = this.view.services().filter((s) => s.spec.volumes.length > 0);
    await Promise.all(stateful.map((s) => this.runtime?.kill(s.spec.name)));
  }

  /**
   * Fences when etcd has not confirmed this node's lease for {@link FENCE_AFTER_MS} (it may
   * expire soon, and the service start elsewhere); lifts the fence once it confirms again.
   */
  #checkFence(): void {
    const since = this.#locks?.sinceRenewedMs() ?? 0;
    if (since > FENCE_AFTER_MS) {
      if (!this.#fenced) {
        void this.#fence(`no word from etcd for ${(since / 1000).toFixed(1)} s`);
      }
    } else if (this.#fenced) {
      this.#unfence();
    }
    void this.#syncClaims();
  }

  /**
   * Lifts the fence once the state is read afresh: until the watch catches up, the copy may
   * still show a service here that was moved away meanwhile, and it would start again here.
   */
  #unfence(): void {
    this.#unfencing ??= this.mirror.resync().then(() => {
      if (!this.#fenced || (this.#locks?.sinceRenewedMs() ?? 0) > FENCE_AFTER_MS) return;
      this.#fenced = false;
      this.log.info("in contact with the cluster again; services with volumes may start here");
      this.#updateWanted();
      void this.#syncClaims();
    }).catch((err) => this.log.debug("cannot read the cluster state yet", { err }))
      .finally(() => this.#unfencing = undefined);
  }

  #updateWanted(): void {
    try {
      this.runtime.setWanted(this.#wanted());
    } catch (err) {
      this.log.error("cannot hand the wanted replicas to the runtime", { err });
    }
  }

  #onStateChange(): void {
    void this.#syncClaims();
    this.#splitDns?.poke();
    this.#snapshots?.changed();
    this.#useCertificate(this.mirror?.certs.get(PROXY_CERT));
    this.#hostPaths?.changed();
    this.#scheduler?.poke();
    if (this.runtime) this.#updateWanted();
    this.#tcp?.sync();
    this.#udp?.sync();
    void this.#mesh?.sync();
  }

  /**
   * Starts the proxy, DNS, the TCP forwarder and the API on {@link view}. Runs before etcd is
   * up when a snapshot was loaded, so every etcd-backed answer checks that its part exists.
   */
  async #startServers(from: "snapshot" | "etcd"): Promise<void> {
    this.#serving = true;
    const c = this.config;
    const view = this.view;
    this.#proxy = new ServiceProxy({
      view,
      domain: c.domain,
      port: c.httpPort,
      httpsPort: c.httpsPort,
      hostname: c.bindAddr,
      trustedProxies: c.trustedProxies,
      metrics: this.metrics,
      log: this.log.child("proxy"),
    });
    // The certificate last served, so HTTPS answers before etcd is read.
    const cached = await loadCachedCert(this.#certFiles());
    const problem = cached && keyPairProblem(cached);
    if (problem) {
      this.log.warn("the saved proxy certificate is not used; HTTPS waits for the one in etcd", {
        why: problem,
      });
    } else if (cached) await this.#proxy.setCertificate(cached);
    try {
      await this.#proxy.start();
    } catch (err) {
      if (!(err instanceof ListenError) || !(err.cause instanceof Deno.errors.AddrInUse)) throw err;
      const flag = err.scheme === "https" ? "--https-port" : "--http-port";
      throw new Error(
        `the proxy cannot listen on ${c.bindAddr}:${err.port} (${err.scheme}): the port is ` +
          `taken; stop what uses it or pass ${flag}`,
      );
    }
    this.#dns = new DnsServer({
      view,
      domain: c.domain,
      port: c.dnsPort,
      hostname: c.bindAddr,
      metrics: this.metrics,
      log: this.log.child("dns"),
      // Without quorum no record of a dead node is dropped; this node still stops naming one
      // it no longer hears.
      silent: () => this.#detector?.silent() ?? new Set(),
      // Names outside the domain go to --dns-upstream, or to this node's resolv.conf.
      forward: { upstreams: c.dnsUpstream },
      // A stack's containers ask here for its services too (Docker's resolver forwards what it
      // does not know): a service added after a container was made has no line in its hosts.
      stackName: (name, peer) => this.#mesh?.stackAddress(name, peer),
      // The virtual addresses are the mesh's: a stack's UDP service may listen there on 53.
      interfaces: () => Deno.networkInterfaces().filter((i) => !isVirtualAddress(i.address)),
    });
    await explain(this.#dns.start(), {
      inUse: `DNS cannot listen on ${c.bindAddr}:${c.dnsPort}: the port is taken; ` +
        "stop what uses it (systemd-resolved? dnsmasq?) or pass --dns-port",
    });
    this.#tcp = new TcpForwarder({
      view,
      hostname: c.bindAddr,
      reservedPorts: [...this.#reservedPorts().keys()],
      metrics: this.metrics,
      log: this.log.child("tcp"),
    });
    this.#tcp.sync();
    this.#udp = new UdpForwarder({
      view,
      hostname: c.bindAddr,
      reservedPorts: [...this.#reservedUdpPorts().keys()],
      metrics: this.metrics,
      log: this.log.child("udp"),
    });
    this.#udp.sync();
    const app = createApi({
      view,
      services: {
        apply: (specs) => {
          const { store } = this.#etcdOrStarting();
          this.#checkPorts(specs, view.services());
          return this.#write(() => store.applyServices(specs));
        },
        restart: (name) => {
          const { store } = this.#etcdOrStarting();
          return this.#write(() => store.restartService(name));
        },
        remove: (name) => {
          const { store } = this.#etcdOrStarting();
          return this.#write(() => store.removeService(name));
        },
        applyStack: (stack, specs) => {
          const { store } = this.#etcdOrStarting();
          // The stack's own services are being replaced, so their ports are not "taken".
          this.#checkPorts(specs, view.services().filter((r) => r.spec.stack !== stack.name));
          return this.#write(() => store.applyStack(stack.name, specs, stack.files));
        },
        removeStack: (name) => {
          const { store } = this.#etcdOrStarting();
          return this.#write(() => store.removeStack(name));
        },
      },
      reservedPorts: () => ({ tcp: this.#reservedPorts(), udp: this.#reservedUdpPorts() }),
      adminToken: this.identity.adminToken,
      nodeId: this.identity.id,
      nodeName: this.identity.name,
      domain: c.domain,
      ready: () => this.#ready && this.#etcdHealthy(),
      leader: () => this.#election?.leader(),
      etcdHealthy: () => this.#etcdHealthy(),
      join: () => this.#desk,
      controlPlane: () => this.#controlPlane(),
      warnings: () => this.#foreign?.warnings() ?? [],
      admissionLog: () => {
        const { store, parts } = this.#etcdOrStarting();
        return parts.etcdCall(() => admissionLog(store));
      },
      joinAddress: () => `${c.advertiseAddr}:${this.endpoints.api}`,
      joinToken: async () => (await this.#etcdOrStarting().store.joinToken()) ?? "",
      peerToken: () => this.#peerToken,
      ui: createUi({
        // The UI reads and writes through this node's API, as the admin, once it has checked
        // the browser's session and the form's CSRF token.
        api: async (path, init) =>
          await app.request(path, {
            ...init,
            headers: {
              ...init?.headers as Record<string, string>,
              authorization: `Bearer ${this.identity.adminToken}`,
            },
          }),
        domain: c.domain,
        nodeName: this.identity.name,
        httpsPort: () => this.endpoints.apiTls,
        secret: () => this.#peerToken,
        admin: this.#uiAdmin,
        log: this.log.child("ui"),
      }),
      uiSetupCode: async () => {
        const secret = this.#peerToken;
        if (!secret) {
          throw new ApiError(503, "starting", "this node is not a member yet; try again soon");
        }
        return await this.#uiAdmin.get() ? null : setupCode(secret);
      },
      logs: (service, replica, node, opts) => {
        if (node !== this.identity.id) {
          if (opts.local) {
            throw new ApiError(404, "not_here", `replica ${replica} of ${service} is not here`);
          }
          return this.#remoteLogs(service, replica, node, opts);
        }
        const { runtime } = this;
        const loaded = this.#runtimeModule;
        if (!runtime || !loaded) {
          throw new ApiError(
            503,
            "starting",
            "the container runtime is still starting; try again in a few seconds",
          );
        }
        return runtime.logs(service, replica, opts).catch((err) => {
          if (!(err instanceof loaded.NoContainerError)) throw err;
          throw new ApiError(
            404,
            "no_container",
            `replica ${replica} of ${service} has no container yet; see fossora services`,
          );
        });
      },
      metrics: this.metrics,
      caCertificate: () => this.#ca?.certPem,
      proxyProblem: (service) => this.#proxy?.problem(service),
      version: VERSION,
      parseServiceFile: (input, options) => {
        if (!this.#parts) {
          throw new ApiError(
            503,
            "starting",
            "the agent is still starting; try again in a few seconds",
          );
        }
        return this.#parts.parseServiceFile(input, options);
      },
    });
    this.#app = app;
    const served = await serveApi(app, {
      hostname: c.bindAddr,
      port: c.apiPort,
      signal: this.#api.signal,
    });
    this.#apiFinished = served.finished;
    this.endpoints = {
      ...this.endpoints,
      api: served.port,
      http: this.#proxy.port,
      dns: this.#dns.port,
    };
    this.log.info("serving", { from, ...this.endpoints });
  }

  /** The store and the parts that use it, or a 503 while etcd is still starting. */
  #etcdOrStarting(): { store: Store; parts: Parts } {
    if (this.store && this.#parts) return { store: this.store, parts: this.#parts };
    throw new ApiError(
      503,
      "etcd_unavailable",
      "the cluster state (etcd) is still starting; try again in a few seconds",
    );
  }

  /** Serves a certificate from etcd, and keeps a copy for the next start. */
  #useCertificate(cert: ServingCert | undefined): void {
    if (!cert || !this.#proxy) return;
    const pair = { certPem: cert.certPem, keyPem: cert.keyPem };
    void this.#proxy.setCertificate(pair);
    if (this.#savedCert === cert.certPem) return;
    this.#savedCert = cert.certPem;
    saveCachedCert(this.#certFiles(), pair).catch((err) =>
      this.log.warn("cannot keep a copy of the proxy's certificate", { err })
    );
    void this.#certs?.poke();
  }
  #savedCert: string | undefined;

  #certFiles(): { cert: string; key: string } {
    const pki = `${this.config.dataDir}/pki`;
    return { cert: `${pki}/proxy.crt`, key: `${pki}/proxy.key` };
  }

  /** Refuses (409) specs whose ports another service, or the agents themselves, hold. */
  #checkPorts(specs: ServiceSpec[], existing: ServiceRecord[]): void {
    const { parts } = this.#etcdOrStarting();
    const args = [specs, existing, this.#reservedPorts(), this.#reservedUdpPorts()] as const;
    const conflicts = [
      ...parts.publishedPortConflicts(...args),
      ...parts.hostPortConflicts(...args),
    ];
    if (conflicts.length) throw new ApiError(409, "port_conflict", "a port is taken", conflicts);
  }

  /** The ports this agent listens on, which no service may publish. */
  #reservedPorts(): Map<number, string> {
    const c = this.config;
    return new Map([
      [c.etcdPeerPort, "etcd peer"],
      [c.etcdClientPort, "etcd client"],
      [c.dnsPort, "DNS"],
      [c.httpPort, "proxy"],
      [c.httpsPort, "HTTPS proxy"],
      [c.apiPort, "API"],
      ...(c.meshPort > 0 ? [[c.meshPort, "stack mesh tunnel"] as [number, string]] : []),
    ]);
  }

  /** The UDP ports this agent uses (DNS, heartbeats), which no service may publish. */
  #reservedUdpPorts(): Map<number, string> {
    const c = this.config;
    return new Map([[c.dnsPort, "DNS"], [c.apiPort, "heartbeat"]]);
  }

  /** Stops every part in reverse order. Containers keep running. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#ready = false;
    await sdNotify("STOPPING=1");
    this.log.info("stopping");
    clearInterval(this.#rescheduler);
    clearInterval(this.#fenceTimer);
    clearInterval(this.#clientProbe);
    this.#joining.abort(new Error("the agent is stopping"));
    const steps: [string, () => unknown][] = [
      // The goodbye goes out first, so other nodes stop offering this one to joiners.
      [
        "discovery",
        () => Promise.all([this.#mdns?.stop(), this.#finder?.stop(), this.#foreign?.stop()]),
      ],
      ["tailscale", () => (this.#splitDns?.stop(), this.#tailscale?.close())],
      ["api", () => (this.#api.abort(), Promise.all([this.#apiFinished, this.#apiTlsFinished]))],
      ["dns", () => this.#dns?.stop()],
      ["proxy", () => this.#proxy?.stop()],
      ["tcp", () => this.#tcp?.stop()],
      ["udp", () => this.#udp?.stop()],
      ["mesh", () => Promise.all([this.#mesh?.stop(), this.#tunnel?.stop()])],
      ["certs", () => this.#certs?.stop()],
      ["runtime", () => (this.#platforms?.close(), this.runtime?.stop())],
      // Before the lease goes (and with it their locks): another node may start them then.
      ["services with volumes", () => this.#killStateful()],
      ["watchdog", () => this.#watchdog?.close()],
      ["etcd timing", () => this.#tuner?.stop()],
      ["admission", () => this.#admission?.stop()],
      ["role", () => this.#follower?.stop()],
      ["election", () => this.#election?.stop()],
      ["mirror", () => this.mirror?.stop()],
      // After the mirror, so the last state it saw is the one saved.
      ["snapshot", () => this.#snapshots?.stop()],
      // Late: peers would call this node dead meanwhile, and move what it still serves.
      ["heartbeats", () => this.#beacon?.close()],
      ["node", () => (this.#hostPaths?.stop(), this.#publisher?.stop())],
      ["lease", () => this.#leased?.close()],
      ["locks", () => this.#locks?.close()],
      ["etcd client", () => (this.client?.close(), this.#healthClient?.close())],
      ["etcd balancer", () => this.#balancer?.stop()],
      ["etcd", () => this.etcd?.stop()],
    ];
    for (const [name, step] of steps) {
      // A part that talks to etcd waits on it; without quorum (the other voters are gone) it
      // would wait for a minute. Stopping goes on after two seconds: nothing is lost, since
      // what it would write is this node's leased records, which expire by themselves.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ms = name === "etcd" ? 15_000 : STOP_STEP_MS;
      const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
      try {
        const done = await Promise.race([Promise.resolve(step()).then(() => "done"), late]);
        if (done === "late") this.log.warn("a part did not stop in time; going on", { part: name });
      } catch (err) {
        this.log.warn("error while stopping", { part: name, err });
      } finally {
        clearTimeout(timer);
      }
    }
    this.log.info("stopped");
  }
}

/** How long a new node looks for a cluster to join before founding its own, ms. */
const DISCOVERY_WINDOW_MS = 4000;

/** How long past the window a new node waits for a lone node with a smaller id to found, ms. */
const FOUNDER_PATIENCE_MS = 20_000;

/**
 * Seconds the locks of services with volumes outlive a node that stopped renewing them. Longer
 * than a node's liveness (3 s): an etcd election (a second or two without keepalives) must not
 * make healthy nodes stop their databases; such a service moves after about this long.
 */
const LOCK_TTL_S = 10;

/**
 * A node that has not heard etcd confirm its locks' lease for this long stops its services with
 * volumes: two thirds of the lease's time to live, so they are stopped before the lease can
 * expire and the service start on another node.
 */
const FENCE_AFTER_MS = (LOCK_TTL_S * 1000 * 2) / 3;

/**
 * A node acts on its heartbeat verdicts only while etcd has renewed its own lease within this
 * long (two keepalives): one that is cut off, or whose etcd is electing a leader, waits.
 */
const JUDGE_RENEWED_MS = 2000;

/** How long a leave waits for this node's replicas to move away, ms. */
const LEAVE_DRAIN_MS = 120_000;
/** How long `fossora leave` waits for the cluster to take this node's vote, ms. */
const LEAVE_TIMEOUT_MS = 90_000;

/** How long a returning voter asks the others whether it still votes, ms. */
const STILL_VOTER_MS = 4000;

/** The longest one part may take to stop, ms (etcd's member has its own SIGKILL after 10 s). */
const STOP_STEP_MS = 2000;

/** The `certs/` record of the proxy's certificate. */
const PROXY_CERT = "proxy";
/** How often a node refreshes its record, and with it the usage the web UI shows. */
const NODE_REFRESH_MS = 15_000;

async function loadCachedCert(f: { cert: string; key: string }): Promise<KeyPair | undefined> {
  const certPem = await readTextFileIfExists(f.cert).catch(() => undefined);
  const keyPem = await readTextFileIfExists(f.key).catch(() => undefined);
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

async function saveCachedCert(f: { cert: string; key: string }, pair: KeyPair): Promise<void> {
  // Key first: a crash between the two leaves a pair that does not match, which TLS refuses and
  // the next copy from etcd replaces.
  await writeFileAtomic(f.key, pair.keyPem, { mode: 0o600 });
  await writeFileAtomic(f.cert, pair.certPem, { mode: 0o644 });
}

/** Replaces a start-up failure we can name with a message that says what to do. */
async function explain<T>(step: Promise<T>, o: { notFound?: string; inUse?: string }): Promise<T> {
  try {
    return await step;
  } catch (err) {
    const text = String((err as Error)?.message ?? err);
    if (o.notFound && (err instanceof Deno.errors.NotFound || /ENOENT|No such file/.test(text))) {
      throw new Error(o.notFound);
    }
    if (o.inUse && (err instanceof Deno.errors.AddrInUse || /EADDRINUSE|in use/i.test(text))) {
      throw new Error(o.inUse);
    }
    throw err;
  }
}
