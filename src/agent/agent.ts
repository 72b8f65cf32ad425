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
import { ApiError, createApi, serveApi } from "../api/mod.ts";
import { detectAdvertiseAddrs6 } from "../config/advertise.ts";
import type { AgentConfig } from "../config/mod.ts";
import { DnsServer } from "../dns/mod.ts";
import { type ClusterCA, ensureNodeCerts, issueServerCert, loadOrCreateCA } from "../etcd/certs.ts";
import { EtcdSupervisor } from "../etcd/supervisor.ts";
import { type Identity, loadOrCreateIdentity } from "../membership/identity.ts";
import type { NodePublisher } from "../membership/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { CertIssuer, type KeyPair, ListenError, ServiceProxy, TcpForwarder } from "../proxy/mod.ts";
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
import { readTextFileIfExists, writeFileAtomic } from "../util/files.ts";
import type { Logger } from "../util/log.ts";
import { sdNotify } from "../util/notify.ts";
import { randomBase64Url } from "../util/random.ts";
import { VERSION } from "../version.ts";

/** The addresses a started agent serves on (ports resolved when 0 was asked). */
export interface AgentEndpoints {
  api: number;
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
  etcd!: EtcdSupervisor;
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
    // The cluster CA and this node's certificate: etcd talks mutual TLS, even on one node.
    const pki = `${c.dataDir}/pki`;
    this.#ca = await loadOrCreateCA(pki);
    const tls = await ensureNodeCerts(pki, this.#ca, {
      nodeName: this.identity.name,
      ips: [c.advertiseAddr],
    });
    this.etcd = new EtcdSupervisor({
      tls,
      bin: c.etcdBin,
      dataDir: `${c.dataDir}/etcd`,
      name: this.identity.id,
      clientPort: c.etcdClientPort,
      peerPort: c.etcdPeerPort,
      log: this.log.child("etcd"),
    });
    await explain(this.etcd.start(), {
      notFound:
        `etcd (${c.etcdBin}) is not installed; install Debian's etcd-server or pass --etcd-bin`,
    });
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
    this.client = connectEtcd([this.etcd.clientUrl], tls);
    this.store = new Store(this.client);
    await updatePeerUrl(this.client, this.identity.id, this.etcd.peerUrl);
    const token = await this.#configuredToken() ?? randomToken();
    const info = await this.store.initCluster(
      { id: crypto.randomUUID(), createdAt: new Date().toISOString(), domain: c.domain },
      token,
    );
    this.log.info("cluster", { id: info.id });
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
        role: "voter",
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
      },
    });
    const store = this.store;
    this.#certs = new CertIssuer({
      domain: c.domain,
      current: () => this.mirror.certs.get(PROXY_CERT),
      // The elected node issues, with the CA key it holds (only the first node has one yet).
      canIssue: () => this.#election.leading && this.#ca !== undefined,
      issue: (names, days) => issueServerCert(this.#ca!, names, days),
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
    // A write the scheduler lost (etcd restarting) is retried even when nothing else changes,
    // and so is a published port that was busy.
    this.#rescheduler = setInterval(() => {
      this.#scheduler.poke();
      this.#tcp?.sync();
    }, 10_000);
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
    if (cached) await this.#proxy.setCertificate(cached);
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
      ready: () => this.#ready && (this.etcd?.healthy ?? false),
      leader: () => this.#election?.leader(),
      etcdHealthy: () => this.etcd?.healthy ?? false,
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
    const served = await serveApi(app, {
      hostname: c.bindAddr,
      port: c.apiPort,
      signal: this.#api.signal,
    });
    this.#apiFinished = served.finished;
    this.endpoints = { api: served.port, http: this.#proxy.port, dns: this.#dns.port };
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
    const steps: [string, () => unknown][] = [
      ["api", () => (this.#api.abort(), this.#apiFinished)],
      ["dns", () => this.#dns?.stop()],
      ["proxy", () => this.#proxy?.stop()],
      ["tcp", () => this.#tcp?.stop()],
      ["certs", () => this.#certs?.stop()],
      ["runtime", () => this.runtime?.stop()],
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
      try {
        await step();
      } catch (err) {
        this.log.warn("error while stopping", { part: name, err });
      }
    }
    this.log.info("stopped");
  }
}

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

/** A new join token: `fossora-` and 24 random bytes. */
function randomToken(): string {
  return "fossora-" + randomBase64Url(24);
}
