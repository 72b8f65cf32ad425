/**
 * mDNS discovery on real sockets between network namespaces standing for machines: `a` and `b`
 * on one bridge (the LAN), `c` on a second link of `a` only, where `a`'s default route goes. Each
 * runs test/helpers/mdns_peer.ts (the real MdnsDiscovery on UDP 5353) under nsenter and prints
 * what it discovers as JSON lines. Proves: a and b find each other with the right address,
 * port, id and cluster id; dig reads a node's records from a one-shot query (an independent
 * parser of our wire format); a announces only on the interface of its advertise address (c, behind
 * a's default route, never sees it, though c hears other multicast from a's namespace); a new
 * cluster id is seen by the other side; garbage sent to 224.0.0.251:5353 is counted and ignored;
 * a stopped node's goodbye removes it at once, long before its TTL.
 */
import assert from "node:assert/strict";
import packet from "dns-packet";
import { announcementPacket } from "../src/discovery/mdns_records.ts";
import type { MdnsCandidate, MdnsStats } from "../src/discovery/mdns.ts";
import { waitFor } from "./helpers/wait.ts";

const RUN = crypto.randomUUID().replaceAll("-", "").slice(0, 6);
const NS = {
  a: `fmdns-${RUN}-a`,
  b: `fmdns-${RUN}-b`,
  c: `fmdns-${RUN}-c`,
  d: `fmdns-${RUN}-d`,
};
const BRIDGE = `fmd${RUN}`;
const PEER = new URL("./helpers/mdns_peer.ts", import.meta.url).pathname;
const SEND = new URL("./helpers/udp_send.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"];

const ID = {
  a: "a000000000000001",
  b: "b000000000000002",
  c: "c000000000000003",
  d: "d000000000000007",
};
const ADDR = { a: "10.77.1.1", b: "10.77.1.2", c: "10.77.2.3", d: "10.77.1.4" };
const PORT = { a: 7440, b: 17440, c: 7440, d: 7440 };
const CLUSTER = "5b0c7c52-3f5e-4d57-9a3a-1f3e8f0c2b11";

async function sh(cmd: string[], check = true): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (check && !out.success) throw new Error(`${cmd.join(" ")} failed: ${text.trim()}`);
  return text;
}

const nsenter = (ns: string) => ["nsenter", `--net=/run/netns/${ns}`];

type Event = {
  event: string;
  candidate?: MdnsCandidate;
  candidates?: MdnsCandidate[];
  stats?: MdnsStats;
};

/** One node's discovery process and the events it printed. */
class Peer {
  readonly events: Event[] = [];
  stderr = "";
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #done: Promise<unknown>;

  constructor(readonly who: keyof typeof NS, clusterId?: string) {
    const options = {
      name: `node-${who}`,
      id: ID[who],
      advertiseAddress: ADDR[who],
      apiPort: PORT[who],
      clusterId,
    };
    this.#child = new Deno.Command(nsenter(NS[who])[0], {
      args: [
        ...nsenter(NS[who]).slice(1),
        Deno.execPath(),
        "run",
        "-A",
        "--config",
        CONFIG,
        PEER,
        JSON.stringify(options),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    let partial = "";
    const out = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: (s) => {
          partial += s;
          const lines = partial.split("\n");
          partial = lines.pop()!;
          for (const l of lines) if (l.trim()) this.events.push(JSON.parse(l));
        },
      }),
    );
    const err = this.#child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (s) => void (this.stderr += s) }),
    );
    this.#done = Promise.allSettled([out, err, this.#child.status]);
  }

  async send(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(line + "\n"));
  }

  /** The first event after index `from` that `match` accepts. */
  waitEvent(what: string, match: (e: Event) => boolean, from = 0, ms = 20_000): Promise<Event> {
    return waitFor(
      `${this.who}: ${what}\n${this.stderr.slice(-2000)}`,
      () => {
        if (this.exited) throw new Error(`${this.who} exited: ${this.stderr.slice(-2000)}`);
        return this.events.slice(from).find(match);
      },
      ms,
      50,
    );
  }

  /** Asks for the list and waits for it. */
  async list(): Promise<{ candidates: MdnsCandidate[]; stats: MdnsStats }> {
    const from = this.events.length;
    await this.send("list");
    const e = await this.waitEvent("its list", (e) => e.event === "list", from);
    return { candidates: e.candidates!, stats: e.stats! };
  }

  get exited(): boolean {
    return this.#exitCode !== undefined;
  }
  #exitCode?: number;

  async ready(): Promise<void> {
    this.#child.status.then((s) => (this.#exitCode = s.code));
    await this.waitEvent("ready", (e) => e.event === "ready");
  }

  /** Ends the process (SIGKILL if it is still there) and waits for it. */
  async kill(): Promise<void> {
    await this.#writer.close().catch(() => {});
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#done;
  }

  async exitStatus(): Promise<Deno.CommandStatus> {
    return await this.#child.status;
  }
}

const strip = ({ seenAt: _, expiresAt: __, ...c }: MdnsCandidate) => c;
const about = (who: string, kind?: string) => (e: Event) =>
  (kind === undefined ? ["added", "updated", "removed"].includes(e.event) : e.event === kind) &&
  e.candidate?.name === who;

async function setUp(): Promise<void> {
  const ip = (ns: string, ...args: string[]) => sh(["ip", "-n", ns, ...args]);
  await sh(["ip", "link", "add", BRIDGE, "type", "bridge"]);
  await sh(["ip", "link", "set", BRIDGE, "up"]);
  await sh(["iptables", "-I", ...FORWARD_RULE]);
  for (const who of ["a", "b", "c", "d"] as const) {
    await sh(["ip", "netns", "add", NS[who]]);
    await ip(NS[who], "link", "set", "lo", "up");
  }
  // d is on the LAN too, but gets its address only after its agent started (as at boot).
  for (const who of ["a", "b", "d"] as const) {
    const veth = `${BRIDGE}${who}`;
    await sh(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", NS[who]]);
    await sh(["ip", "link", "set", veth, "master", BRIDGE, "up"]);
    if (who !== "d") await ip(NS[who], "addr", "add", `${ADDR[who]}/24`, "dev", "eth0");
    await ip(NS[who], "link", "set", "eth0", "up");
  }
  // a's second link, to c: a's default route goes this way, so only binding keeps mDNS off it.
  await ip(NS.a, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", NS.c);
  await ip(NS.a, "addr", "add", "10.77.2.1/24", "dev", "eth1");
  await ip(NS.a, "link", "set", "eth1", "up");
  await ip(NS.c, "addr", "add", `${ADDR.c}/24`, "dev", "eth0");
  await ip(NS.c, "link", "set", "eth0", "up");
  await ip(NS.a, "route", "add", "default", "via", ADDR.c, "dev", "eth1");
  await ip(NS.b, "route", "add", "224.0.0.0/4", "dev", "eth0");
  await ip(NS.c, "route", "add", "224.0.0.0/4", "dev", "eth0");
  await ip(NS.d, "route", "add", "224.0.0.0/4", "dev", "eth0");
}

async function tearDown(): Promise<void> {
  for (const ns of Object.values(NS)) await sh(["ip", "netns", "del", ns], false);
  await sh(["ip", "link", "del", BRIDGE], false);
  // The rule may have been inserted more than once only by a bug; remove every copy.
  while ((await sh(["iptables", "-C", ...FORWARD_RULE], false)).trim() === "") {
    if ((await sh(["iptables", "-D", ...FORWARD_RULE], false)).trim() !== "") break;
  }
}

/** Datagrams sent to 224.0.0.251:5353 from inside `ns`. */
async function sendFrom(ns: string, packets: Uint8Array[]): Promise<void> {
  const b64 = packets.map((p) => btoa(String.fromCharCode(...p)));
  const out = await sh([
    ...nsenter(ns),
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    CONFIG,
    SEND,
    JSON.stringify({ packets: b64 }),
  ]);
  assert.match(out, new RegExp(`sent ${packets.length}`));
}

// deno-lint-ignore no-explicit-any
const encode = (p: any) => new Uint8Array(packet.encode(p));

function garbage(): Uint8Array[] {
  const random = new Uint8Array(300);
  crypto.getRandomValues(random);
  const real = encode(announcementPacket({
    name: "evil",
    id: "e000000000000005",
    address: "10.77.1.66",
    apiPort: 1,
  }));
  const lie = (edit: (rs: Record<string, unknown>[]) => void) => {
    const p = structuredClone(announcementPacket({
      name: "liar",
      id: "e000000000000006",
      address: "10.77.1.67",
      apiPort: 7440,
    }));
    edit(p.answers as unknown as Record<string, unknown>[]);
    return encode(p);
  };
  return [
    random,
    new TextEncoder().encode("hello, world"),
    new Uint8Array(0),
    // A header claiming one question whose name is a compression pointer to itself.
    new Uint8Array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1]),
    real.slice(0, 40),
    lie((rs) => (rs[1].data = { priority: 0, weight: 0, port: 0, target: "x.local" })),
    lie((rs) => (rs[3].data = "127.0.0.1")),
    lie((rs) => (rs[2].data = ["v=1", "id=e000000000000006", "x=" + "y".repeat(250)].concat(
      Array.from({ length: 5 }, () => "z".repeat(200)),
    ))),
    lie((rs) => (rs[2].data = ["v=9", "id=e000000000000006"])),
    encode({
      type: "query",
      questions: Array.from({ length: 100 }, (_, i) => ({ name: `q${i}.local`, type: "A" })),
    }),
  ];
}

Deno.test({
  name: "mDNS discovery between namespaces: found, bound to its interface, updated, unharmed " +
    "by garbage, and gone on goodbye",
  async fn(t) {
    const peers: Peer[] = [];
    try {
      await setUp();
      const a = new Peer("a");
      const b = new Peer("b");
      const c = new Peer("c");
      peers.push(a, b, c);
      await Promise.all(peers.map((p) => p.ready()));

      await t.step(
        "each side finds the other with its address, port, id and cluster id",
        async () => {
          const bOnA = await a.waitEvent("node-b found", about("node-b", "added"));
          const aOnB = await b.waitEvent("node-a found", about("node-a", "added"));
          assert.deepEqual(strip(bOnA.candidate!), {
            name: "node-b",
            id: ID.b,
            address: ADDR.b,
            apiPort: PORT.b,
          });
          assert.deepEqual(strip(aOnB.candidate!), {
            name: "node-a",
            id: ID.a,
            address: ADDR.a,
            apiPort: PORT.a,
          });
          assert.equal(bOnA.candidate!.expiresAt - bOnA.candidate!.seenAt, 120_000);
        },
      );

      await t.step(
        "dig, a DNS client of its own, reads a node's records by a one-shot query",
        async () => {
          const out = await sh([
            ...nsenter(NS.b),
            "dig",
            `@${ADDR.a}`,
            "-p",
            "5353",
            "_fossora._tcp.local",
            "PTR",
            "+noall",
            "+answer",
            "+tries=1",
            "+time=2",
          ]);
          const lines = out.trim().split("\n").map((l) => l.split(/\s+/).join(" "));
          assert.deepEqual(lines, [
            "_fossora._tcp.local. 10 IN PTR node-a._fossora._tcp.local.",
            `node-a._fossora._tcp.local. 10 IN SRV 0 0 ${PORT.a} fossora-${ID.a}.local.`,
            `node-a._fossora._tcp.local. 10 IN TXT "v=1" "id=${ID.a}" "cluster="`,
            `fossora-${ID.a}.local. 10 IN A ${ADDR.a}`,
          ], out);
        },
      );

      await t.step(
        "a announces and browses only on its advertise address's interface",
        async () => {
          // a and c announce anew (a new cluster id); b hearing a's shows a's packets went out,
          // c counting its own looped-back announcement shows c's went out.
          const fromB = b.events.length;
          const cPackets = (await c.list()).stats.packets;
          await a.send("cluster step-two");
          await c.send("cluster step-two");
          await b.waitEvent("node-a's new announcement", about("node-a", "updated"), fromB);
          await waitFor(
            "c's own announcement",
            async () => (await c.list()).stats.packets > cPackets,
          );
          // Multicast from a's namespace out of its default route does reach c: the probe. Sent
          // after a's announcement, it arrives after anything of a's that could have leaked.
          await sendFrom(NS.a, [encode(announcementPacket({
            name: "probe",
            id: "d000000000000004",
            address: "10.77.2.1",
            apiPort: 1234,
          }))]);
          await c.waitEvent("the probe", about("probe", "added"));
          assert.deepEqual(c.events.filter(about("node-a")), [], "c never hears a's agent");
          assert.deepEqual(
            (await c.list()).candidates.map((x) => x.name),
            ["probe"],
          );
          assert.deepEqual(a.events.filter(about("node-c")), [], "a never hears c");
          assert.deepEqual((await a.list()).candidates.map((x) => x.name), ["node-b"]);
          assert.deepEqual((await b.list()).candidates.map((x) => x.name), ["node-a"]);
        },
      );

      await t.step("a node that joins a cluster is seen with its cluster id", async () => {
        const from = a.events.length;
        await b.send(`cluster ${CLUSTER}`);
        const e = await a.waitEvent("node-b's cluster", about("node-b", "updated"), from);
        assert.deepEqual(strip(e.candidate!), {
          name: "node-b",
          id: ID.b,
          clusterId: CLUSTER,
          address: ADDR.b,
          apiPort: PORT.b,
        });
      });

      await t.step("garbage sent to 224.0.0.251:5353 is counted and ignored", async () => {
        const before = { a: (await a.list()).stats, b: (await b.list()).stats };
        await sendFrom(NS.b, garbage());
        const counted = (p: Peer, was: number) =>
          waitFor(`${p.who} counts the garbage`, async () => {
            const s = (await p.list()).stats;
            return s.rejected >= was + 5 ? s : undefined;
          });
        const after = {
          a: await counted(a, before.a.rejected),
          b: await counted(b, before.b.rejected),
        };
        console.log(
          `rejected: a ${after.a.rejected - before.a.rejected}, b ${
            after.b.rejected - before.b.rejected
          } (of 10 datagrams)`,
        );
        assert.ok(!a.exited && !b.exited, "both still run");
        const listA = (await a.list()).candidates.map(strip);
        assert.deepEqual(listA, [{
          name: "node-b",
          id: ID.b,
          clusterId: CLUSTER,
          address: ADDR.b,
          apiPort: PORT.b,
        }]);
        assert.deepEqual((await b.list()).candidates.map((x) => x.name), ["node-a"]);
        // And they still talk: a joins the cluster too, b sees it.
        const from = b.events.length;
        await a.send(`cluster ${CLUSTER}`);
        const e = await b.waitEvent("node-a's cluster", about("node-a", "updated"), from);
        assert.equal(e.candidate!.clusterId, CLUSTER);
      });

      await t.step(
        "a stopped node's goodbye removes it from the other's table at once",
        async () => {
          const from = a.events.length;
          const stoppedAt = Date.now();
          await b.send("stop");
          assert.equal((await b.exitStatus()).code, 0);
          const e = await a.waitEvent("node-b gone", about("node-b", "removed"), from, 10_000);
          assert.equal(e.candidate!.id, ID.b);
          // Its records had 120 s to live: only the goodbye explains this.
          assert.ok(Date.now() - stoppedAt < 10_000);
          assert.deepEqual((await a.list()).candidates, []);
        },
      );

      await t.step(
        "a node whose address comes after it started is found once it is there",
        async () => {
          const d = new Peer("d");
          peers.push(d);
          await d.ready();
          await waitFor("d's failed membership", async () => (await d.list()).stats.rejected > 0);
          // Without its address d cannot join the group: it hears nothing (what it sends may
          // still leave, from 0.0.0.0).
          assert.deepEqual((await d.list()).candidates, []);
          await sh(["ip", "-n", NS.d, "addr", "add", `${ADDR.d}/24`, "dev", "eth0"]);
          const dOnA = await a.waitEvent("node-d found", about("node-d", "added"));
          assert.equal(dOnA.candidate!.address, ADDR.d);
          await d.waitEvent("node-a found by d", about("node-a", "added"));
        },
      );
    } finally {
      await Promise.all(peers.map((p) => p.kill()));
      await tearDown();
    }
  },
});
