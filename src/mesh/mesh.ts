/**
 * The stack mesh of one node: inside a stack's containers every service of the stack answers at
 * its compose name and ports (`db:3306`), wherever its replicas run.
 *
 * Each stack with a container on this node has a Docker bridge network here (`fossora-STACK`);
 * its containers join it and get an `/etc/hosts` line per service of the stack, naming the
 * service's virtual address (address.ts), which is on this node's loopback. The agent listens on
 * each virtual address and port, takes only connections whose source is on the network of a
 * stack that has that service (so neither another stack nor a machine of the LAN routing via
 * this node gets in), and forwards each to a ready replica: one on this node directly at its
 * container, another through its node's tunnel (tunnel.ts). Listeners follow the cluster view
 * on every `sync()`; networks and addresses no container needs any more are removed, also
 * those a crash left behind.
 * @module
 */
import type { ClusterView } from "../state/view.ts";
import type { ServiceSpec } from "../state/types.ts";
import type { ContainerAttach } from "../runtime/runtime.ts";
import { Counter, type Registry } from "../metrics/mod.ts";
import { closeQuietly } from "../util/conn.ts";
import { type Logger, silentLogger } from "../util/log.ts";
import { addressClashes, stackOfSource, virtualAddress } from "./address.ts";
import type { HostAddresses } from "./host_addresses.ts";
import type { StackNetwork, StackNetworks } from "./networks.ts";
import {
  composeName,
  hostsLines,
  type MeshBackend,
  meshBackends,
  type MeshPort,
  meshPorts,
  orderMeshBackends,
  serviceNames,
  servicePorts,
  stackServices,
} from "./targets.ts";
import { dialTunnel, relayWithRest, type TunnelDial, type TunnelRequest } from "./tunnel.ts";
import { type Channel, DatagramMesh, localChannel, tunnelChannel } from "./datagrams.ts";

/** Name of the connection counter, labelled `service` and `result` (ok, no_replica, failed, refused). */
export const MESH_CONNECTIONS_METRIC = "fossora_mesh_connections_total";

/** What the mesh needs. */
export interface MeshOptions {
  view: ClusterView;
  /** This node's id. */
  self: string;
  networks: StackNetworks;
  addresses: HostAddresses;
  /** How to reach other nodes' tunnels; undefined while this node has no certificate. */
  tunnel: () => TunnelDial | undefined;
  /**
   * The DNS servers of a stack's containers, from its network's gateway (the node on that
   * network); default none (Docker's).
   */
  dns?: (network: StackNetwork) => string[];
  metrics?: Registry;
  log?: Logger;
  now?: () => number;
  /** How long to wait for a replica (or a tunnel) to accept, ms; default 3000. */
  connectTimeoutMs?: number;
  /** How long a replica that failed is tried last, ms; default 5000. */
  outMs?: number;
  /** A network made this recently is kept even when empty (its container is being made), ms. */
  graceMs?: number;
}

interface Listening {
  listener: Deno.TcpListener;
  loop: Promise<void>;
  /** Stack -> service of that stack at this address and port. */
  services: Map<string, string>;
}

/** The stack mesh of this node; see the module's documentation. */
export class Mesh {
  readonly #o: MeshOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #counter: Counter;
  /** The stack networks on this node, by stack. */
  readonly #networks = new Map<string, StackNetwork>();
  /** Stack -> subnet, for the source check. */
  readonly #subnets = new Map<string, string>();
  /** When each stack's network was last readied for a container. */
  readonly #prepared = new Map<string, number>();
  readonly #addresses = new Set<string>();
  readonly #ensuring = new Map<string, Promise<StackNetwork>>();
  readonly #listeners = new Map<string, Listening>();
  /** Listeners that could not be opened, and the reason last logged. */
  readonly #failed = new Map<string, string>();
  readonly #next = new Map<string, number>();
  /** Last availability logged per service, so a flood of failed connections logs once. */
  readonly #state = new Map<string, string>();
  readonly #outUntil = new Map<string, number>();
  readonly #conns = new Set<Deno.Conn>();
  readonly #sessions = new Set<Promise<void>>();
  readonly #stopping = new AbortController();
  #syncing: Promise<void> | undefined;
  #again = false;
  #lastSweep = 0;
  #clashes = new Set<string>();
  readonly #udp: DatagramMesh;

  constructor(o: MeshOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#udp = new DatagramMesh({
      stackOf: (source) => stackOfSource(source, this.#subnets),
      open: (service, port) => this.#openChannel(service, port),
      ready: (service, port, key) => this.#backends(service, port).some((b) => b.key === key),
      log: this.#log,
      now: this.#now,
    });
    const help = "Connections between a stack's services, by service and result.";
    this.#counter = o.metrics
      ? o.metrics.counter(MESH_CONNECTIONS_METRIC, help)
      : new Counter(MESH_CONNECTIONS_METRIC, help);
  }

  /** Adopts the stack networks and virtual addresses a previous run left, then syncs. */
  async start(): Promise<void> {
    try {
      for (const n of await this.#o.networks.list()) this.#keep(n);
    } catch (err) {
      this.#log.warn("cannot list the stacks' networks; they are found again as stacks deploy", {
        err,
      });
    }
    try {
      for (const a of await this.#o.addresses.list()) this.#addresses.add(a);
    } catch (err) {
      this.#log.warn("cannot list the virtual addresses", { err });
    }
    // Whatever is left over and unused goes at the first sweep.
    this.#lastSweep = 0;
    await this.sync();
  }

  /**
   * For the runtime, before it makes a container of a stack's service: the stack's network
   * here, the virtual addresses of its services, and how the container joins.
   */
  async attach(spec: ServiceSpec): Promise<ContainerAttach> {
    const stack = spec.stack;
    if (!stack) return {};
    const network = await this.#ensure(stack);
    this.#prepared.set(stack, this.#now());
    await this.sync();
    const services = this.#o.view.services();
    // The service itself may not be in the view yet on a node that just heard of it.
    const hosts = [...hostsLines(services, stack)];
    if (!services.some((s) => s.spec.name === spec.name)) {
      hosts.push(`${composeName(spec.name)}:${virtualAddress(spec.name)}`);
    }
    const dns = this.#o.dns?.(network) ?? [];
    return { network: network.name, hosts, ...(dns.length ? { dns } : {}) };
  }

  /**
   * Brings listeners and addresses in line with the view, and every 10 s removes the networks
   * no container is on any more. Call after every view change; never throws.
   */
  sync(): Promise<void> {
    if (this.#stopping.signal.aborted) return Promise.resolve();
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      do {
        this.#again = false;
        try {
          await this.#syncOnce();
        } catch (err) {
          this.#log.error("cannot sync the stack mesh", { err });
        }
      } while (this.#again && !this.#stopping.signal.aborted);
    })().finally(() => this.#syncing = undefined);
    return this.#syncing;
  }

  /**
   * The virtual address of `name` for a container at `source`: when the source is on a stack's
   * network here and the name is one of that stack's services (compose name or alias).
   */
  stackAddress(name: string, source: string): string | undefined {
    const stack = stackOfSource(source, this.#subnets);
    if (stack === undefined) return undefined;
    const service = stackServices(this.#o.view.services(), stack)
      .find((s) => serviceNames(s).some((n) => n.toLowerCase() === name));
    return service && virtualAddress(service.spec.name);
  }

  /** The listeners open now, `address:port` (TCP) and `address:port/udp`, sorted. */
  listening(): string[] {
    return [...this.#listeners.keys(), ...this.#udp.listening()].sort();
  }

  /** The stack networks this node has, by stack. */
  networks(): Map<string, StackNetwork> {
    return new Map(this.#networks);
  }

  /** Closes every listener and connection; networks and addresses stay for the next run. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("mesh stopped"));
    await this.#syncing;
    const loops = [...this.#listeners.values()].map((l) => l.loop);
    for (const key of [...this.#listeners.keys()]) this.#close(key);
    for (const c of this.#conns) closeQuietly(c);
    await Promise.all([...loops, ...this.#sessions, this.#udp.stop()]);
  }

  /**
   * The stack's network, made once even when several of its containers are made at once
   * (Docker would make two networks of one name, and then refuse both as ambiguous).
   */
  #ensure(stack: string): Promise<StackNetwork> {
    let p = this.#ensuring.get(stack);
    if (!p) {
      p = this.#o.networks.ensure(stack).then((n) => (this.#keep(n), n));
      this.#ensuring.set(stack, p);
      p.finally(() => this.#ensuring.delete(stack)).catch(() => {});
    }
    return p;
  }

  #keep(n: StackNetwork): void {
    this.#networks.set(n.stack, n);
    this.#subnets.set(n.stack, n.subnet);
  }

  async #syncOnce(): Promise<void> {
    const view = this.#o.view;
    if (this.#now() - this.#lastSweep >= 10_000) {
      this.#lastSweep = this.#now();
      await this.#sweep();
    }
    const ports = meshPorts(
      view.services(),
      (s) => view.replicasOf(s),
      new Set(this.#networks.keys()),
    );
    this.#reportClashes();
    const wanted = new Map<string, MeshPort[]>();
    const datagrams = new Map<string, Map<string, string>>();
    for (const p of ports) {
      const key = `${p.address}:${p.port}`;
      if (p.protocol === "udp") {
        datagrams.set(key, (datagrams.get(key) ?? new Map()).set(p.stack, p.service));
      } else wanted.set(key, [...(wanted.get(key) ?? []), p]);
    }
    const addresses = new Set(ports.map((p) => p.address));
    for (const a of addresses) {
      if (this.#addresses.has(a)) continue;
      try {
        await this.#o.addresses.add(a);
        this.#addresses.add(a);
      } catch (err) {
        this.#log.warn("cannot add a virtual address; its service is unreachable here", {
          address: a,
          err,
        });
      }
    }
    for (const key of [...this.#listeners.keys()]) if (!wanted.has(key)) this.#close(key);
    for (const [key, list] of wanted) {
      const services = new Map(list.map((p) => [p.stack, p.service]));
      const l = this.#listeners.get(key);
      if (l) l.services = services;
      else if (this.#addresses.has(list[0].address)) this.#open(list[0], services);
    }
    for (const key of datagrams.keys()) {
      if (!this.#addresses.has(key.slice(0, key.lastIndexOf(":")))) datagrams.delete(key);
    }
    this.#udp.sync(datagrams);
    for (const a of [...this.#addresses]) {
      if (addresses.has(a)) continue;
      try {
        await this.#o.addresses.remove(a);
        this.#addresses.delete(a);
      } catch (err) {
        this.#log.warn("cannot remove a virtual address", { address: a, err });
      }
    }
  }

  /** Removes the networks of stacks no container here is on (and not just readied). */
  async #sweep(): Promise<void> {
    const grace = this.#o.graceMs ?? 15_000;
    for (const [stack, n] of [...this.#networks]) {
      if (this.#now() - (this.#prepared.get(stack) ?? -Infinity) < grace) continue;
      try {
        if (await this.#o.networks.containers(n.name) > 0) continue;
        // A container may have been readied while Docker was asked.
        if (this.#now() - (this.#prepared.get(stack) ?? -Infinity) < grace) continue;
        await this.#o.networks.remove(n.name);
        this.#networks.delete(stack);
        this.#subnets.delete(stack);
        this.#prepared.delete(stack);
        this.#log.info("removed the network of a stack with no container here", { stack });
      } catch (err) {
        this.#log.warn("cannot remove a stack's network; will retry", { stack, err });
      }
    }
  }

  #reportClashes(): void {
    const now = new Set<string>();
    for (const stack of this.#networks.keys()) {
      const names = stackServices(this.#o.view.services(), stack).map((s) => s.spec.name);
      for (const [a, b] of addressClashes(names)) {
        const key = `${a} ${b}`;
        now.add(key);
        if (!this.#clashes.has(key)) {
          this.#log.warn("two services of a stack share a virtual address; rename one", {
            stack,
            services: [a, b],
          });
        }
      }
    }
    this.#clashes = now;
  }

  #open(p: MeshPort, services: Map<string, string>): void {
    const key = `${p.address}:${p.port}`;
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname: p.address, port: p.port, transport: "tcp" });
    } catch (err) {
      const reason = (err as Error).message;
      if (this.#failed.get(key) !== reason) {
        this.#log.warn("cannot listen for a stack's service", { service: p.service, at: key, err });
      }
      this.#failed.set(key, reason);
      return;
    }
    this.#failed.delete(key);
    const entry: Listening = { listener, loop: Promise.resolve(), services };
    entry.loop = this.#accept(key, entry);
    this.#listeners.set(key, entry);
    this.#log.debug("listening for a stack's service", { service: p.service, at: key });
  }

  #close(key: string): void {
    const l = this.#listeners.get(key);
    if (!l) return;
    this.#listeners.delete(key);
    closeQuietly(l.listener);
  }

  async #accept(key: string, entry: Listening): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await entry.listener.accept();
      } catch {
        if (this.#listeners.get(key) === entry) this.#close(key);
        return;
      }
      const s = this.#serve(entry, conn);
      this.#sessions.add(s);
      s.finally(() => this.#sessions.delete(s));
    }
  }

  /** One connection from a container, from accept to close; never rejects. */
  async #serve(entry: Listening, client: Deno.TcpConn): Promise<void> {
    this.#conns.add(client);
    let backend: Deno.Conn | undefined;
    try {
      const source = (client.remoteAddr as Deno.NetAddr).hostname;
      const port = (client.localAddr as Deno.NetAddr).port;
      const stack = stackOfSource(source, this.#subnets);
      const service = stack === undefined ? undefined : entry.services.get(stack);
      if (!service) {
        // Not from a container of a stack that has this service: as if nothing listened.
        this.#counter.inc({ service: "", result: "refused" });
        return;
      }
      const opened = await this.#dial(service, port);
      if (!opened) return;
      backend = opened.conn;
      this.#conns.add(backend);
      client.setNoDelay(true);
      await relayWithRest(backend, client, opened.rest);
    } catch (err) {
      this.#log.debug("stack connection ended with an error", { err });
    } finally {
      this.#conns.delete(client);
      closeQuietly(client);
      if (backend) {
        this.#conns.delete(backend);
        closeQuietly(backend);
      }
    }
  }

  /** Connects to a ready replica of `service`, here or through its node's tunnel. */
  async #dial(
    service: string,
    port: number,
  ): Promise<{ conn: Deno.Conn; rest: Uint8Array } | undefined> {
    const opened = await this.#first(service, port, "tcp", (b) => this.#connect(service, port, b));
    return opened?.value;
  }

  /**
   * A channel for one client's datagrams to `service`'s UDP `port`: to a replica here first,
   * else through a tunnel that accepts (UDP cannot tell whether a local replica listens).
   */
  async #openChannel(
    service: string,
    port: number,
  ): Promise<{ channel: Channel; key: string } | undefined> {
    const opened = await this.#first(
      service,
      port,
      "udp",
      async (b) =>
        b.local ? localChannel(b.host, b.port) : await this.#tunnelChannel(service, port, b),
    );
    return opened && { channel: opened.value, key: opened.key };
  }

  /** The ready replicas of `service` a connection to `port` can go to. */
  #backends(service: string, port: number): MeshBackend[] {
    const view = this.#o.view;
    return meshBackends(view.replicasOf(service), port, this.#o.self, (id) => view.node(id));
  }

  /**
   * `open` on the ready replicas of `service` in turn (this node's first, round-robin, those
   * that failed lately last) until one succeeds; what it gave and which replica, or undefined.
   */
  async #first<T>(
    service: string,
    port: number,
    protocol: "tcp" | "udp",
    open: (b: MeshBackend) => Promise<T>,
  ): Promise<{ value: T; key: string } | undefined> {
    const fields = protocol === "udp" ? { port, protocol } : { port };
    const backends = this.#backends(service, port);
    if (backends.length === 0) {
      this.#result(service, "no_replica", fields);
      return undefined;
    }
    const start = this.#next.get(service) ?? 0;
    this.#next.set(service, (start + 1) % 1_000_000);
    const now = this.#now();
    const isOut = (b: MeshBackend) => (this.#outUntil.get(b.key) ?? 0) > now;
    for (const b of orderMeshBackends(backends, start, isOut)) {
      if (this.#stopping.signal.aborted) return undefined;
      try {
        const value = await open(b);
        this.#outUntil.delete(b.key);
        this.#result(service, "ok");
        return { value, key: b.key };
      } catch (err) {
        if (this.#outUntil.size > 10_000) this.#outUntil.clear();
        this.#outUntil.set(b.key, this.#now() + (this.#o.outMs ?? 5000));
        this.#log.info("replica did not accept a stack connection; trying the next", {
          service,
          replica: b.key,
          protocol,
          err,
        });
      }
    }
    this.#result(service, "failed", fields);
    return undefined;
  }

  async #tunnelChannel(service: string, port: number, b: MeshBackend): Promise<Channel> {
    const dial = this.#o.tunnel();
    if (!dial) throw new Error("this node has no certificate yet to reach other nodes");
    const req: TunnelRequest = { service, container: b.container, port, protocol: "udp" };
    const timeout = this.#o.connectTimeoutMs ?? 3000;
    const opened = await dialTunnel(dial, b.host, b.port, req, timeout, this.#stopping.signal);
    return tunnelChannel(opened.conn, opened.rest);
  }

  /** Counts a connection, and logs when the service's availability changes. */
  #result(service: string, result: "ok" | "no_replica" | "failed", fields = {}): void {
    this.#counter.inc({ service, result });
    const before = this.#state.get(service);
    if (before === result) return;
    if (this.#state.size > 10_000) this.#state.clear();
    this.#state.set(service, result);
    if (result === "no_replica") {
      this.#log.warn("no ready replica; closing a stack's connections", { service, ...fields });
    } else if (result === "failed") {
      this.#log.warn("no replica accepts a stack's connections", { service, ...fields });
    } else if (before !== undefined) {
      this.#log.info("a stack's connections reach a replica again", { service });
    }
  }

  /** Connects to `b`: its container here, or its node's tunnel asking for `port` there. */
  async #connect(
    service: string,
    port: number,
    b: MeshBackend,
  ): Promise<{ conn: Deno.Conn; rest: Uint8Array }> {
    const timeout = this.#o.connectTimeoutMs ?? 3000;
    if (b.local) {
      const signal = AbortSignal.any([AbortSignal.timeout(timeout), this.#stopping.signal]);
      const conn = await Deno.connect({ hostname: b.host, port: b.port, signal });
      conn.setNoDelay(true);
      return { conn, rest: new Uint8Array() };
    }
    const dial = this.#o.tunnel();
    if (!dial) throw new Error("this node has no certificate yet to reach other nodes");
    const req: TunnelRequest = { service, container: b.container, port };
    return await dialTunnel(dial, b.host, b.port, req, timeout, this.#stopping.signal);
  }

  /**
   * Why a tunnel request from another node is refused, or undefined: it must name a ready
   * replica of the service on this node, at its container address, and one of its ports.
   */
  refuse(req: TunnelRequest): string | undefined {
    const view = this.#o.view;
    const record = view.service(req.service);
    if (!record?.spec.stack) return `no stack service ${req.service}`;
    const replicas = view.replicasOf(req.service);
    const here = replicas.find((r) =>
      r.node === this.#o.self && r.ready && r.stackAddress === req.container
    );
    if (!here) return `no ready replica of ${req.service} at ${req.container} on this node`;
    if (!servicePorts(record, replicas, req.protocol ?? "tcp").includes(req.port)) {
      return `${req.service} has no ${req.protocol === "udp" ? "UDP " : ""}port ${req.port}`;
    }
    return undefined;
  }
}
