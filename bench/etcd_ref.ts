/**
 * The reference the cluster benchmarks measure fossora against: bare etcd members, run in the
 * same hosts' namespaces, with the flags fossora's own etcd runs with (read from its command
 * line, so a tuning change there reaches the reference too), each host's own node certificate
 * (the same mutual TLS), and grown with the same membership calls fossora's leader makes (add a
 * learner, start it, promote it once it caught up), only driven directly: no agent, no token, no
 * admission queue, no 500 ms leader step, promotion asked every 100 ms. They listen on ports of
 * their own, so they run beside the hosts' agents.
 * @module
 */
import type { Etcd3 } from "etcd3";
import { etcdMembership, initialCluster, type Membership } from "../src/admission/membership.ts";
import type { NodeCerts } from "../src/etcd/certs.ts";
import { connectEtcd, tlsArgs } from "../src/etcd/mod.ts";
import type { Host } from "../test/helpers/hosts.ts";
import { GiveUp, waitFor } from "../test/helpers/wait.ts";

/** Where reference members listen (fossora's etcd has 2379 and 2380). */
export const REF_CLIENT_PORT = 12379;
export const REF_PEER_PORT = 12380;

/** fossora's etcd flags that name one member; the reference sets these itself. */
const PER_MEMBER = new Set([
  "name",
  "data-dir",
  "listen-client-urls",
  "advertise-client-urls",
  "listen-peer-urls",
  "initial-advertise-peer-urls",
  "initial-cluster",
  "initial-cluster-state",
  "initial-cluster-token",
  "cert-file",
  "key-file",
  "trusted-ca-file",
  "peer-cert-file",
  "peer-key-file",
  "peer-trusted-ca-file",
]);

/** One reference member, as {@link referenceEtcdArgs} needs it. */
export interface RefMember {
  name: string;
  dataDir: string;
  address: string;
  clientPort: number;
  peerPort: number;
  certs: NodeCerts;
  /** `--initial-cluster` of a joining member; absent for the one that founds the cluster. */
  initialCluster?: string;
}

/**
 * A reference member's etcd arguments: every flag of `template` (a running fossora etcd's
 * arguments, the program first) that does not name its member, kept as it is, then the member's
 * own. Only `--flag=value` and bare `--flag` words are expected (what fossora passes).
 */
export function referenceEtcdArgs(template: string[], m: RefMember): string[] {
  const kept = template.slice(1).filter((w) => {
    if (!w.startsWith("--")) {
      throw new Error(`unexpected etcd argument "${w}": fossora passes only --flag=value`);
    }
    return !PER_MEMBER.has(w.slice(2).split("=")[0]);
  });
  const client = `https://${m.address}:${m.clientPort}`;
  const peer = `https://${m.address}:${m.peerPort}`;
  return [
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${client},https://127.0.0.1:${m.clientPort}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    ...(m.initialCluster
      ? [`--initial-cluster=${m.initialCluster}`, "--initial-cluster-state=existing"]
      : [`--initial-cluster=${m.name}=${peer}`, "--initial-cluster-state=new"]),
    `--initial-cluster-token=ref-${m.name}`,
    ...tlsArgs(m.certs),
    ...kept,
  ];
}

/** A host's node certificate files (it has them once its agent is in the cluster). */
export function hostCerts(h: Host): NodeCerts {
  const pki = `${h.dataDir}/pki`;
  return { caFile: `${pki}/ca.crt`, certFile: `${pki}/node.crt`, keyFile: `${pki}/node.key` };
}

/** The pid of a host's fossora etcd, if it runs one. */
export async function fossoraEtcdPid(h: Host): Promise<number | undefined> {
  const pid = Number(await Deno.readTextFile(`${h.dataDir}/etcd.pid`).catch(() => ""));
  if (!pid) return undefined;
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
  return cmdline.includes(h.dataDir) ? pid : undefined;
}

/** The arguments of a host's running fossora etcd, program first: the reference's template. */
export async function fossoraEtcdArgs(h: Host): Promise<string[]> {
  const pid = await fossoraEtcdPid(h);
  if (!pid) throw new Error(`${h.name} runs no etcd of its own to copy the flags of`);
  return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").filter(Boolean);
}

/** One running reference member. */
export class RefEtcd {
  #ended: Promise<Deno.CommandStatus>;

  private constructor(
    readonly host: Host,
    readonly child: Deno.ChildProcess,
    readonly clientUrl: string,
    readonly http: Deno.HttpClient,
  ) {
    this.#ended = child.status;
  }

  /** Starts etcd in `host`'s namespace; its output goes to `ref-etcd.log` in the host's dir. */
  static async spawn(host: Host, args: string[]): Promise<RefEtcd> {
    const certs = hostCerts(host);
    const [ca, cert, key] = await Promise.all(
      [certs.caFile, certs.certFile, certs.keyFile].map((f) => Deno.readTextFile(f)),
    );
    // The shell only redirects and execs, and so does nsenter: the child's pid is etcd's.
    const log = `${host.dir}/ref-etcd.log`;
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'exec "$@" >>"$0" 2>&1',
        log,
        "nsenter",
        `--net=/run/netns/${host.netns}`,
        "--",
        "etcd",
        ...args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new RefEtcd(
      host,
      child,
      `https://${host.address}:${REF_CLIENT_PORT}`,
      Deno.createHttpClient({ caCerts: [ca], cert, key }),
    );
  }

  get pid(): number {
    return this.child.pid;
  }

  /** True when the member's `/health` says so (it has a leader and no alarm). */
  async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.clientUrl}/health`, {
        client: this.http,
        signal: AbortSignal.timeout(1500),
      });
      const body = await res.json() as { health?: string };
      return res.ok && body.health === "true";
    } catch {
      return false;
    }
  }

  /** Waits until healthy; fails at once when etcd exits. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    let exited = false;
    void this.#ended.then(() => exited = true);
    await waitFor(
      `the reference etcd on ${this.host.name} to be healthy`,
      async () => {
        if (exited) {
          throw new GiveUp(
            `the reference etcd on ${this.host.name} exited: see ${this.host.dir}/ref-etcd.log`,
          );
        }
        return await this.healthy();
      },
      timeoutMs,
      50,
    );
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    await this.#ended;
    this.http.close();
  }
}

/**
 * A reference etcd cluster grown member by member over some hosts, with their certificates.
 * Dispose it to stop every member.
 */
export class RefCluster implements AsyncDisposable {
  readonly members: RefEtcd[] = [];
  #client: Etcd3 | undefined;
  #membership: Membership | undefined;

  /** `template`: a fossora etcd's arguments ({@link fossoraEtcdArgs}). */
  constructor(readonly template: string[]) {}

  #member(h: Host, initial?: string): RefMember {
    return {
      name: `ref-${h.name}`,
      dataDir: `${h.dir}/ref-etcd`,
      address: h.address,
      clientPort: REF_CLIENT_PORT,
      peerPort: REF_PEER_PORT,
      certs: hostCerts(h),
      initialCluster: initial,
    };
  }

  /** Founds the cluster on `h` and waits until it is healthy. */
  async found(h: Host): Promise<void> {
    if (this.members.length) throw new Error("the reference cluster is founded already");
    const m = await RefEtcd.spawn(h, referenceEtcdArgs(this.template, this.#member(h)));
    this.members.push(m);
    await m.waitHealthy();
    this.#client = connectEtcd([m.clientUrl], hostCerts(h));
    this.#membership = etcdMembership(this.#client);
  }

  /**
   * Adds `h` as a voter the way fossora's leader does (learner, start, promote once caught up)
   * and waits until it is healthy; returns the milliseconds it took from the add.
   */
  async add(h: Host, timeoutMs = 30_000): Promise<number> {
    const membership = this.#membership;
    if (!membership) throw new Error("found the reference cluster first");
    const t0 = performance.now();
    const peer = `https://${h.address}:${REF_PEER_PORT}`;
    // etcd refuses an add until its leader has been connected to every voter for 5 s (and
    // says so: "unhealthy cluster"); fossora's leader meets the same rule and retries too. The
    // client's breaker opens on those refusals for half a second.
    const { id, members } = await waitFor(
      `etcd to take ${h.name} as a learner`,
      async () => {
        try {
          return await membership.addLearner(peer);
        } catch (err) {
          if (/unhealthy cluster|not enough started members|circuit breaker/i.test(String(err))) {
            return false;
          }
          throw new GiveUp(`adding ${h.name} to the reference cluster: ${err}`);
        }
      },
      timeoutMs,
      100,
    );
    const initial = initialCluster(members, `ref-${h.name}`, peer);
    const m = await RefEtcd.spawn(h, referenceEtcdArgs(this.template, this.#member(h, initial)));
    this.members.push(m);
    await waitFor(
      `the reference etcd on ${h.name} to be promoted`,
      async () => (await membership.promote(id)) === "promoted",
      timeoutMs,
      100,
    );
    await m.waitHealthy(timeoutMs);
    return performance.now() - t0;
  }

  /** Stops every member and removes their data. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#client?.close();
    this.#client = undefined;
    await Promise.all(this.members.map((m) => m.stop()));
    await Promise.all(
      this.members.map((m) =>
        Deno.remove(`${m.host.dir}/ref-etcd`, { recursive: true }).catch(() => {})
      ),
    );
    this.members.length = 0;
  }
}
