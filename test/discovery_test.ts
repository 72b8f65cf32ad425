/**
 * Discovery on real agents (hosts harness: a namespace, dockerd, agent and etcd per host, on one
 * bridge), with no `--join` anywhere:
 * - mDNS: two new nodes started at the same moment end as one cluster (the smaller node id
 *   founds after the discovery window, the other waits for its cluster and joins it); nodes
 *   started later find that cluster over `_fossora._tcp` and join, with the token or (without
 *   one) as pending until a person approves.
 * - Tailscale: each host has a fake tailscaled (the real LocalAPI wire format, on a unix socket
 *   given with `--tailscale-socket`) whose peers are the other hosts; the agents find each other
 *   from its status and probe their API ports, and the cluster asks `whois` about each joiner: a
 *   machine of the same owner, or one carrying `--tailscale-tag`, joins without a token; one of
 *   another owner waits as pending until approved. Two nodes started at once both found (a node
 *   without a cluster serves no API to be found by), and the younger cluster gives way.
 * - Clusters that meet: one with no services gives way (its node forgets it, keeps its identity
 *   and joins the oldest cluster that runs services); two that both run services are never
 *   merged, and each warns of the other in `GET /api/v1/cluster` and `fossora status`.
 * One harness of four hosts serves every step (each step wipes the hosts it uses), so the
 * namespaces and dockerds are made once.
 */
import assert from "node:assert/strict";
import { BUSYBOX_IMAGE, type Host, Hosts } from "./helpers/hosts.ts";
import { waitFor } from "./helpers/wait.ts";
import { type FakeNode, FakeTailscaled, TAGGED_DEVICES } from "../src/discovery/tailscale_fake.ts";

interface AdmissionEvent {
  name: string;
  event: string;
  detail: string;
}

/** The admission log as the CLI prints it on `host`. */
async function history(host: Host): Promise<AdmissionEvent[]> {
  const out = await host.cli("nodes", "--history", "--json");
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).events;
}

/** Waits until `host`'s admission log shows `name` with `event`; returns that event. */
function eventOf(host: Host, name: string, event: string, ms = 30_000): Promise<AdmissionEvent> {
  return waitFor(
    `"${name} ${event}" in ${host.name}'s admission log`,
    async () => (await history(host)).find((e) => e.name === name && e.event === event),
    ms,
    250,
  );
}

/** `fossora nodes approve NAME` on `host`. */
async function approve(host: Host, name: string): Promise<void> {
  const out = await host.cli("nodes", "approve", name);
  assert.equal(out.code, 0, out.stderr);
}

/** The cluster id each host's agent reports. */
async function clusterIds(hosts: Host[]): Promise<string[]> {
  return await Promise.all(
    hosts.map(async (h) => (await h.json<{ id: string }>("/api/v1/cluster")).id),
  );
}

/** Waits until `on` lists exactly `names`, each ready; returns them sorted. */
function readyMembers(on: Host, names: string[]): Promise<string[]> {
  const want = [...names].sort();
  return waitFor(
    `${want.join(", ")} ready in ${on.name}'s cluster`,
    async () => {
      const { nodes } = await on.json<{ nodes: { name: string; state: string }[] }>(
        "/api/v1/nodes",
      );
      const ready = nodes.filter((n) => n.state === "ready").map((n) => n.name).sort();
      return JSON.stringify(ready) === JSON.stringify(want) ? ready : undefined;
    },
    30_000,
    250,
  );
}

/** Empties every host's data dir (agents killed), so the next step starts from new machines. */
async function wipeAll(hosts: Host[]): Promise<void> {
  await Promise.all(hosts.map((h) => h.wipe()));
}

const ALICE = { id: 6104512347893214561n, loginName: "alice@example.com", displayName: "Alice" };
const BOB = { id: 6104512347893214562n, loginName: "bob@example.com", displayName: "Bob" };
const TAGGED = { id: 7012345, ...TAGGED_DEVICES };
const NO_TAILNET = {
  backendState: "NeedsLogin",
  users: [],
  self: { hostName: "x", ips: [], user: 0 },
};

Deno.test("discovery (long): nodes find a cluster over mDNS and over the tailnet, with no --join", async (t) => {
  // The fakes come first so they are disposed of last, after the agents that ask them.
  // Their tailnets are set once the hosts' addresses are known.
  await using ts1 = await FakeTailscaled.start(NO_TAILNET);
  await using ts2 = await FakeTailscaled.start(NO_TAILNET);
  await using ts3 = await FakeTailscaled.start(NO_TAILNET);
  await using ts4 = await FakeTailscaled.start(NO_TAILNET);
  await using cluster = await Hosts.create(4, { startAgents: false });
  const hosts = cluster.hosts;
  const [n1, n2, n3, n4] = hosts;

  const mdns = ["--discovery=mdns"];
  const founding = (h: Host) => h.output.some((l) => l.includes("no cluster nearby; founding one"));

  await t.step(
    "mDNS: two new nodes started at once end as one cluster: the smaller id founds, the other joins",
    async () => {
      await Promise.all([n1.spawn(mdns), n2.spawn(mdns)]);
      const [founder, other] = await waitFor("a node to found", () => {
        if (founding(n1)) return [n1, n2];
        if (founding(n2)) return [n2, n1];
        return undefined;
      }, 30_000);
      await founder.waitReady();
      // They met as new nodes (unless one started a whole window late on a loaded machine, and
      // then found the other's cluster already there): the smaller id founds, the other waits.
      const met = founder.output.some((l) => l.includes("smallest id of 2 new nodes"));
      if (met) {
        assert.ok(founder.nodeId < other.nodeId, `${founder.nodeId} < ${other.nodeId}`);
        await other.waitForLine(new RegExp(`not founding a cluster yet.*${founder.name} \\(`));
      }
      // The other never founds: it asks to join the founder's cluster, as any node without a
      // token does, pending until a person approves.
      const pending = await eventOf(founder, other.name, "pending");
      assert.match(pending.detail, /no token/);
      assert.equal(founding(other), false, `${other.name} founded a cluster of its own`);
      await approve(founder, other.name);
      await other.waitReady();
      await readyMembers(founder, ["node1", "node2"]);
      const ids = await clusterIds([n1, n2]);
      assert.equal(new Set(ids).size, 1, `one cluster: ${ids}`);
    },
  );

  await t.step(
    "mDNS: more nodes find that cluster; one with the token joins, one without waits for approval",
    async () => {
      const { token } = await n1.json<{ token: string }>("/api/v1/token");
      await n3.start([...mdns, `--token=${token}`]);
      const queued = await eventOf(n1, "node3", "queued");
      assert.match(queued.detail, /the join token/);

      await n4.spawn(mdns);
      const pending = await eventOf(n1, "node4", "pending");
      assert.match(pending.detail, /no token/);
      assert.equal(founding(n4), false, "it waits, it does not found a cluster of its own");
      await approve(n1, "node4");
      await n4.waitReady();

      await readyMembers(n1, ["node1", "node2", "node3", "node4"]);
      const ids = await clusterIds(hosts);
      assert.equal(new Set(ids).size, 1, `one cluster: ${ids}`);
      for (const h of [n3, n4]) {
        assert.ok(h.output.some((l) => l.includes("found a cluster nearby; joining it")), h.name);
      }
    },
  );

  await t.step(
    "Tailscale: two lone nodes end as one cluster; whois lets the owner's and tagged machines in, another owner's waits",
    async () => {
      await wipeAll(hosts);
      const fakes = [ts1, ts2, ts3, ts4];
      // node1 and node2 are alice's, node3 a tagged machine, node4 bob's.
      const owner = [ALICE.id, ALICE.id, TAGGED.id, BOB.id];
      const node = (i: number): FakeNode => ({
        hostName: hosts[i].name,
        ips: [hosts[i].address],
        user: owner[i],
        tags: i === 2 ? ["tag:fossora"] : undefined,
      });
      fakes.forEach((f, i) => {
        f.tailnet = {
          users: [ALICE, BOB, TAGGED],
          self: node(i),
          peers: hosts.map((_, j) => j).filter((j) => j !== i).map(node),
          // node1's tailnet has HTTPS on: tailscaled gives it a certificate for its name.
          https: i === 0,
        };
      });
      const flags = (h: Host) => [
        "--discovery=tailscale",
        `--tailscale-socket=${fakes[h.index - 1].socketPath}`,
        "--tailscale-tag=tag:fossora",
      ];
      // No token is given to any of them. node1 and node2 start at the same moment: over the
      // tailnet a node without a cluster is not seen, so both found one; then the younger
      // cluster (both are empty) gives way, and its node joins the other, let in by whois.
      await Promise.all([n1.start(flags(n1)), n2.start(flags(n2))]);
      const gaveWay = (h: Host) =>
        h.output.some((l) => l.includes("this node forgets its cluster and joins that one"));
      const [first, second] = await waitFor("one of node1 and node2 to give way", () => {
        if (gaveWay(n2)) return [n1, n2];
        if (gaveWay(n1)) return [n2, n1];
        return undefined;
      }, 30_000);
      const owners = await eventOf(first, second.name, "queued");
      assert.match(owners.detail, /belongs to alice@example\.com, as this node does/);
      await readyMembers(first, ["node1", "node2"]);

      await n3.start(flags(n3));
      const tagged = await eventOf(first, "node3", "queued");
      assert.match(tagged.detail, /carries tag:fossora/);

      await n4.spawn(flags(n4));
      const pending = await eventOf(first, "node4", "pending");
      // Whichever member took the request asked its own tailscaled.
      assert.match(pending.detail, /bob@example\.com|only tagged machines are trusted/);
      assert.equal(n4.running, true, "it waits, it does not found a cluster of its own");
      await approve(first, "node4");
      await n4.waitReady();

      await readyMembers(first, ["node1", "node2", "node3", "node4"]);
      const ids = await clusterIds(hosts);
      assert.equal(new Set(ids).size, 1, `one cluster: ${ids}`);
      // Each agent asked its own tailscaled for the peers.
      for (const f of fakes) {
        assert.ok(f.requests.some((r) => r.pathAndQuery === "/localapi/v0/status"));
      }
      // node1's TLS port serves tailscaled's certificate to its MagicDNS name (the whois above
      // saw each joiner's own address through it), and the cluster CA's to the rest.
      const name = "node1.tail4f2a1c.ts.net";
      const ca = `${cluster.dir}/tailnet-ca.pem`;
      await Deno.writeTextFile(ca, (await ts1.authority()).certPem);
      const curl = (host: string, caFile: string) =>
        new Deno.Command("curl", {
          args: [
            "-sS",
            "--max-time",
            "3",
            "--cacert",
            caFile,
            "--resolve",
            `${host}:7443:${n1.address}`,
            `https://${host}:7443/api/v1/health`,
          ],
        }).output();
      await waitFor("node1's MagicDNS name served with tailscaled's certificate", async () => {
        const out = await curl(name, ca);
        return out.success && new TextDecoder().decode(out.stdout).includes('"ready":true');
      }, 30_000);
      assert.equal(ts1.certsIssued, 1);
      const clusterCa = `${n1.dataDir}/pki/ca.crt`;
      const byCa = await curl("node1", clusterCa);
      assert.ok(byCa.success, new TextDecoder().decode(byCa.stderr));
    },
  );

  await t.step(
    "clusters that meet: an empty one gives way and joins; two running services warn of each other",
    async () => {
      await wipeAll(hosts);
      const web = (h: Host) =>
        h.json("/api/v1/services", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ name: `web-${h.name}`, image: BUSYBOX_IMAGE }),
        });
      // Three clusters, founded one after the other with discovery off: node1's and node2's
      // run a service, node3's (the youngest) runs none.
      const alone = ["--discovery=none"];
      await n1.start(alone);
      await web(n1);
      await n2.start(alone);
      await web(n2);
      await n3.start(alone);
      const [c1, c2, c3] = await clusterIds([n1, n2, n3]);
      assert.equal(new Set([c1, c2, c3]).size, 3);
      const n3Id = n3.nodeId;

      // Now they see each other.
      await Promise.all([n1, n2, n3].map((h) => h.stop()));
      await Promise.all([n1, n2, n3].map((h) => h.start(mdns)));

      await n3.waitForLine(/another one outranks it: this node forgets its cluster/);
      const pending = await eventOf(n1, "node3", "pending");
      assert.match(pending.detail, /no token/);
      await approve(n1, "node3");
      await readyMembers(n1, ["node1", "node3"]);
      await n3.waitReady();
      assert.equal(
        (await clusterIds([n3]))[0],
        c1,
        "node3 joined the oldest cluster with services",
      );
      assert.equal(n3.nodeId, n3Id, "node3 kept its identity");

      const warnings = async (h: Host, other: string) =>
        await waitFor(
          `${h.name} to warn of cluster ${other}`,
          async () => {
            const { warnings } = await h.json<{ warnings: string[] }>("/api/v1/cluster");
            return warnings.find((w) => w.includes(other));
          },
          30_000,
          250,
        );
      assert.match(await warnings(n1, c2), /node node2 at .* runs services, as this one does/);
      assert.match(await warnings(n2, c1), /node node(1|3) at .* runs services, as this one does/);
      assert.deepEqual(await clusterIds([n1, n2]), [c1, c2], "never merged");
      const status = await n1.cli("status");
      assert.match(status.stdout, new RegExp(`warning: another cluster \\(${c2}`));
    },
  );
});
