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
import { joinCluster } from "../admission/joiner.ts";
import { AdmissionLeader, admissionLog } from "../admission/leader.ts";
import { etcdMembership } from "../admission/membership.ts";
import { loadMembership, type SavedMembership, saveMembership } from "../admission/saved.ts";
import { formatJoinToken, newSecret, parseJoinToken } from "../admission/token.ts";
import { ApiError, createApi, serveApi } from "../api/mod.ts";
import { detectAdvertiseAddrs6 } from "../config/advertise.ts";
import { Finder, LocalApiClient, MdnsDiscovery, tailnetJoinerTrust } from "../discovery/mod.ts";
import type { AgentConfig } from "../config/mod.ts";
import { DnsServer } from "../dns/mod.ts";
import {
  type ClusterCA,
  ensureNodeCerts,
  installNodeCert,
  issueServerCert,
  loadOrCreateCA,
  newKeyAndRequest,
  type NodeCerts,
  signNodeRequest,
} from "../etcd/certs.ts";
import { ensurePrivateDir } from "../etcd/files.ts";
import { EtcdSupervisor } from "../etcd/supervisor.ts";
import type { EtcdTuner } from "../etcd/tuner.ts";
import { type Identity, loadOrCreateIdentity } from "../membership/identity.ts";
import type { NodePublisher } from "../membership/mod.ts";
import { Registry } from "../metrics/mod.ts";
import {
  CertIssuer,
  type KeyPair,
  keyPairProblem,
  ListenError,
  ServiceProxy,
  TcpForwarder,
} from "../proxy/mod.ts";
import type { Runtime, WantedReplica } from "../runtime/mod.ts";
import type { Scheduler } from "../scheduler/mod.ts";
import {
  loadSnapshot,
  snapshotFile,
  type SnapshotStorage,
  SnapshotWriter,
} from "../state/snapshot.ts";
import type { LeaderElection, LeasedRecords, Mirror, ServingCert, Store } from "../state/mod.ts";
import { SwitchView } from "../state/view.ts";
import { exists, readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import type { Logger } from "../util/log.ts";
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
  #election!: LeaderElection;
  #scheduler!: Scheduler;
  #proxy!: ServiceProxy;
  #dns!: DnsServer;
  #tcp: TcpForwarder | undefined;
  #ca: ClusterCA | undefined;
  #certs: CertIssuer | undefined;
  #api = new AbortController();
  #apiFinished: Promise<void> = Promise.resolve();
  #apiTlsFinished: Promise<void> = Promise.resolve();
  #app: Hono | undefined;
  #admission: AdmissionLeader | undefined;
  #tuner: EtcdTuner | undefined;
  #desk: JoinDesk | undefined;
  /** A worker's view of its etcd connection (a voter asks its member). */
  #clientOk = false;
  #clientProbe: ReturnType<typeof setInterval> | undefined;
  #joining = new AbortController();
  #finder: Finder | undefined;
  #mdns: MdnsDiscovery | undefined;
  #tailscale: LocalApiClient | undefined;
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
  #lastWanted = new Map<string, WantedReplica>();
  endpoints: AgentEndpoints = { api: 0, http: 0, dns: 0 };

  constructor(readonly config: AgentConfig, readonly log: Logger) {}

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
      } else if (c.join.length || await this.#clusterNearby()) {
        // A new node serves nothing yet, so loading the etcd client's parts costs nothing here.
        this.#parts ??= await import("./parts.ts");
        saved = await this.#join(pki, this.#parts.dockerArch());
        if (this.#stopping) return;
      }
    }
    const founder = !saved || saved.founder;
    const role = saved?.role ?? "voter";
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
    let clientUrls = saved?.clientUrls ?? [];
    if (role === "voter") {
      const etcd = this.etcd = new EtcdSupervisor({
        tls,
        bin: c.etcdBin,
        dataDir: `${c.dataDir}/etcd`,
        name: this.identity.id,
        clientPort: c.etcdClientPort,
        peerPort: c.etcdPeerPort,
        host: c.advertiseAddr,
        listenHost: c.bindAddr,
        initialCluster: saved?.initialCluster,
        log: this.log.child("etcd"),
      });
      await explain(etcd.start(), {
        notFound:
          `etcd (${c.etcdBin}) is not installed; install Debian's etcd-server or pass --etcd-bin`,
      });
      clientUrls = [etcd.localClientUrl];
    }
    const {
      connectEtcd,
      dockerArch,
      LeaderElection,
      LeasedRecords,
      Mirror,
      NodePublisher,
      Scheduler,
      Store,
      updatePeerUrl,
      families,
    } = this.#parts ??= await import("./parts.ts");
    // A stop that came while etcd started has stopped it already; a client now would outlive it.
    if (this.#stopping) return;
    this.client = connectEtcd(clientUrls, tls);
    this.store = new Store(this.client);
    if (this.etcd) await updatePeerUrl(this.client, this.identity.id, this.etcd.peerUrl);
    else this.#probeClient();
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
    } else {
      info = await this.store.clusterInfo();
      if (!info) throw new Error("the cluster this node joined has no cluster record in etcd");
    }
    this.log.info("cluster", { id: info.id });
    this.#mdns?.setClusterId(info.id);
    this.#leased = new LeasedRecords({ store: this.store, log: this.log.child("lease") });
    this.#publisher = new NodePublisher({
      leased: this.#leased,
      log: this.log.child("node"),
      addresses6: () => detectAdvertiseAddrs6(c.advertiseAddr),
      record: {
        id: this.identity.id,
        name: this.identity.name,
        address: c.advertiseAddr,
        arch: dockerArch(),
        site: c.site,
        labels: c.labels,
        role,
        version: VERSION,
        apiPort: c.apiPort,
        httpPort: c.httpPort,
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
    this.#scheduler = new Scheduler({
      store: this.store,
      mirror: this.mirror,
      leading: () => this.#election.leading,
      log: this.log.child("scheduler"),
    });
    this.#election = new LeaderElection({
      store: this.store,
      role: "scheduler",
      value: this.identity.id,
      log: this.log.child("election"),
      onChange: () => {
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
    this.#tcp?.sync();
    this.#election.start();
    this.#certs.start();
    this.#admission.start();
    this.#joins = { info, liveNodes, membership };
    // A write the scheduler lost (etcd restarting) is retried even when nothing else changes,
    // and so is a published port that was busy.
    this.#rescheduler = setInterval(() => {
      this.#scheduler.poke();
      this.#tcp?.sync();
    }, 10_000);
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
      // TODO(lead): keep it in membership.json and start etcd with it.
      onApplied: (timing) => log.info("etcd runs with new timing", { ...timing }),
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

  /** Takes join requests: the desk behind the API's join routes, and the API over TLS. */
  async #serveJoins(): Promise<void> {
    if (!this.#joins) return;
    const { info, liveNodes, membership } = this.#joins;
    const c = this.config;
    const tls = this.#tls!;
    const served = await serveApi(this.#app!, {
      hostname: c.bindAddr,
      port: c.apiTlsPort,
      signal: this.#api.signal,
      tls: {
        cert: await Deno.readTextFile(tls.certFile),
        key: await Deno.readTextFile(tls.keyFile),
      },
    });
    this.#apiTlsFinished = served.finished;
    this.endpoints = { ...this.endpoints, apiTls: served.port };
    this.#desk = new JoinDesk({
      store: () => this.store,
      nodeName: this.identity.name,
      tlsPort: served.port,
      clusterInfo: () => Promise.resolve(info),
      caCertPem: () => this.#ca!.certPem,
      joinToken: () => this.store.joinToken(),
      members: () => membership.list(),
      liveNodes,
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

  /** A new node looks around before founding a cluster of its own. */
  async #clusterNearby(): Promise<boolean> {
    if (!this.#mdns && !this.#tailscale) return false;
    const found = await this.#finder!.waitForAny(DISCOVERY_WINDOW_MS, this.#joining.signal);
    this.log.info(
      found ? "found a cluster nearby; joining it" : "no cluster nearby; founding one",
      {
        candidates: this.#finder!.candidates(),
      },
    );
    return found;
  }

  async #configuredToken(): Promise<string | undefined> {
    if (this.config.token) return this.config.token;
    if (this.config.tokenFile) return (await Deno.readTextFile(this.config.tokenFile)).trim();
    return undefined;
  }

  async #startRuntime(): Promise<void> {
    const id = this.identity.id;
    const { families } = this.#parts ??= await import("./parts.ts");
    const { createDockerApi, Runtime } = this.#runtimeModule ??= await import(
      "../runtime/mod.ts"
    );
    this.runtime = new Runtime({
      docker: createDockerApi(this.config.dockerHost),
      nodeId: id,
      address: this.config.advertiseAddr,
      log: this.log.child("runtime"),
      // Failures are thrown back: the runtime retries a status it could not write.
      report: (s) => this.#leased.put(families.replicas, [id, s.service, String(s.replica)], s),
      forget: (service, replica) =>
        this.#leased.delete(families.replicas, [id, service, String(replica)]),
    });
    this.#updateWanted();
    await this.runtime.start();
  }

  /**
   * The replicas assigned to this node, with the spec of their generation. Between a deploy and
   * the scheduler's next write, an assignment still names the old generation while the service
   * already holds the new spec: the replica then keeps what it was given last.
   */
  #wanted(): WantedReplica[] {
    const out: WantedReplica[] = [];
    const next = new Map<string, WantedReplica>();
    for (const a of this.mirror.assignments.values()) {
      const svc = this.mirror.view.service(a.service);
      if (a.node !== this.identity.id || !svc) continue;
      const key = `${a.service}/${a.replica}`;
      const w = svc.generation === a.generation
        ? { service: a.service, replica: a.replica, generation: a.generation, spec: svc.spec }
        : this.#lastWanted.get(key);
      if (!w) continue;
      next.set(key, w);
      out.push(w);
    }
    this.#lastWanted = next;
    return out;
  }

  #updateWanted(): void {
    try {
      this.runtime.setWanted(this.#wanted());
    } catch (err) {
      this.log.error("cannot hand the wanted replicas to the runtime", { err });
    }
  }

  #onStateChange(): void {
    this.#snapshots?.changed();
    this.#useCertificate(this.mirror?.certs.get(PROXY_CERT));
    this.#scheduler?.poke();
    if (this.runtime) this.#updateWanted();
    this.#tcp?.sync();
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
    const app = createApi({
      view,
      services: {
        apply: (specs) => {
          const { store, parts } = this.#etcdOrStarting();
          const conflicts = parts.publishedPortConflicts(
            specs,
            view.services(),
            this.#reservedPorts(),
          );
          if (conflicts.length) {
            throw new ApiError(409, "port_conflict", "a published port is taken", conflicts);
          }
          return parts.etcdCall(() => store.applyServices(specs));
        },
        remove: (name) => {
          const { store, parts } = this.#etcdOrStarting();
          return parts.etcdCall(() => store.removeService(name));
        },
      },
      adminToken: this.identity.adminToken,
      nodeId: this.identity.id,
      nodeName: this.identity.name,
      domain: c.domain,
      ready: () => this.#ready && this.#etcdHealthy(),
      leader: () => this.#election?.leader(),
      etcdHealthy: () => this.#etcdHealthy(),
      join: () => this.#desk,
      admissionLog: () => {
        const { store, parts } = this.#etcdOrStarting();
        return parts.etcdCall(() => admissionLog(store));
      },
      joinAddress: () => `${c.advertiseAddr}:${this.endpoints.api}`,
      joinToken: async () => (await this.#etcdOrStarting().store.joinToken()) ?? "",
      logs: (service, replica, node, opts) => {
        if (node !== this.identity.id) {
          throw new ApiError(
            502,
            "not_local",
            `replica ${replica} of ${service} runs on another node; ask that node`,
          );
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
    ]);
  }

  /** Stops every part in reverse order. Containers keep running. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#ready = false;
    await sdNotify("STOPPING=1");
    this.log.info("stopping");
    clearInterval(this.#rescheduler);
    clearInterval(this.#clientProbe);
    this.#joining.abort(new Error("the agent is stopping"));
    const steps: [string, () => unknown][] = [
      // The goodbye goes out first, so other nodes stop offering this one to joiners.
      ["discovery", () => Promise.all([this.#mdns?.stop(), this.#finder?.stop()])],
      ["tailscale", () => this.#tailscale?.close()],
      ["api", () => (this.#api.abort(), Promise.all([this.#apiFinished, this.#apiTlsFinished]))],
      ["dns", () => this.#dns?.stop()],
      ["proxy", () => this.#proxy?.stop()],
      ["tcp", () => this.#tcp?.stop()],
      ["certs", () => this.#certs?.stop()],
      ["runtime", () => this.runtime?.stop()],
      ["etcd timing", () => this.#tuner?.stop()],
      ["admission", () => this.#admission?.stop()],
      ["election", () => this.#election?.stop()],
      ["mirror", () => this.mirror?.stop()],
      // After the mirror, so the last state it saw is the one saved.
      ["snapshot", () => this.#snapshots?.stop()],
      ["node", () => this.#publisher?.stop()],
      ["lease", () => this.#leased?.close()],
      ["etcd client", () => this.client?.close()],
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

/** The longest one part may take to stop, ms (etcd's member has its own SIGKILL after 10 s). */
const STOP_STEP_MS = 2000;

/** The `certs/` record of the proxy's certificate. */
const PROXY_CERT = "proxy";

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
