/**
 * etcd's heartbeat and election timeout follow the round trip between nodes, so a cluster spread
 * over two houses does not flap: four hosts (three voters and a worker; a third node would join
 * as a worker, since two voters tolerate no failure) with 100 ms of round trip added between
 * them by the harness's delay relays. The voters' tuners measure it, restart their members one
 * at a time with timing to match, and the cluster then keeps its leader for a minute of steady
 * state. Long by nature: that minute is what the issue asks to see.
 */
import assert from "node:assert/strict";
import { measurePeer, tlsHandshakeProbe } from "../src/etcd/rtt.ts";
import type { NodeCerts } from "../src/etcd/certs.ts";
import { type Host, Hosts } from "./helpers/hosts.ts";
import { waitFor } from "./helpers/wait.ts";

const ADDED_RTT_MS = 100;
/** The steady state watched; FOSSORA_TEST_STEADY_SECONDS=600 makes it the benchmark. */
const STEADY_MS = Number(Deno.env.get("FOSSORA_TEST_STEADY_SECONDS") || 60) * 1000;

function certsOf(host: Host): NodeCerts {
  const pki = `${host.dataDir}/pki`;
  return { caFile: `${pki}/ca.crt`, certFile: `${pki}/node.crt`, keyFile: `${pki}/node.key` };
}

/** The pid and timing flags of a host's running etcd, from its pid file and /proc. */
async function etcdProcess(
  host: Host,
): Promise<{ pid: number; heartbeatMs: number; electionMs: number }> {
  const pid = Number(await Deno.readTextFile(`${host.dataDir}/etcd.pid`));
  const args = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
  const flag = (name: string, etcdDefault: number) => {
    const a = args.find((x) => x.startsWith(`--${name}=`));
    return a ? Number(a.slice(name.length + 3)) : etcdDefault;
  };
  return {
    pid,
    heartbeatMs: flag("heartbeat-interval", 100),
    electionMs: flag("election-timeout", 1000),
  };
}

/** A member's leader and raft term, from etcd's maintenance status (its JSON gateway). */
async function etcdStatus(
  host: Host,
  client: Deno.HttpClient,
): Promise<{ leader: string; raftTerm: number }> {
  const url = `https://${host.address}:${host.etcdClientPort}/v3/maintenance/status`;
  const res = await fetch(url, {
    method: "POST",
    body: "{}",
    client,
    signal: AbortSignal.timeout(5000),
  });
  const body = await res.json() as { leader?: string; raftTerm?: string };
  if (!res.ok || !body.leader) {
    throw new Error(`${host.name}'s etcd status: ${JSON.stringify(body)}`);
  }
  return { leader: body.leader, raftTerm: Number(body.raftTerm) };
}

/** From a member's /metrics: leader changes it saw, and the mean round trip it measured to peers. */
async function etcdMetrics(
  host: Host,
  client: Deno.HttpClient,
): Promise<{ leaderChanges: number; peerRttMs: number }> {
  const res = await fetch(`https://${host.address}:${host.etcdClientPort}/metrics`, {
    client,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  const sum = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))]
      .reduce((n, m) => n + Number(m[1]), 0);
  const rttSum = sum("etcd_network_peer_round_trip_time_seconds_sum");
  const rttCount = sum("etcd_network_peer_round_trip_time_seconds_count");
  return {
    leaderChanges: sum("etcd_server_leader_changes_seen_total"),
    peerRttMs: rttCount ? (rttSum / rttCount) * 1000 : NaN,
  };
}

/** When each retune of a host's member began and ended, from the agent's log lines. */
function restartSpans(host: Host): { host: string; from: number; to: number }[] {
  const at = (l: string) => Date.parse(l.slice(0, 24));
  const spans: { host: string; from: number; to: number }[] = [];
  for (const line of host.output) {
    if (/restarting this member with new timing/.test(line)) {
      spans.push({ host: host.name, from: at(line), to: Infinity });
    } else if (/the member runs with new timing/.test(line) && spans.length) {
      spans[spans.length - 1].to = at(line);
    }
  }
  return spans;
}

Deno.test("(long) with 100 ms of round trip added, voters retune etcd one at a time and keep their leader for a minute", async (t) => {
  await using cluster = await Hosts.create(4, {
    delayMs: ADDED_RTT_MS / 2,
    startAgents: false,
    agentFlags: ["--etcd-tune-interval=5"],
  });
  const [first, ...others] = cluster.hosts;
  await first.start();
  const certs = certsOf(first);
  const [caCert, cert, key] = await Promise.all(
    [certs.caFile, certs.certFile, certs.keyFile].map((f) => Deno.readTextFile(f)),
  );
  const client = Deno.createHttpClient({ caCerts: [caCert], cert, key });
  try {
    // Joining adds no election (a learner is promoted in the leader's term): any new term from
    // here on is a leader change, and the tuners' restarts are the only cause expected.
    const termBefore = (await etcdStatus(first, client)).raftTerm;
    const { token } = await first.json<{ token: string }>("/api/v1/token");
    const tokenFile = `${cluster.dir}/join-token`;
    await Deno.writeTextFile(tokenFile, token + "\n", { mode: 0o600 });
    const joined = Date.now();
    await Promise.all(
      others.map((h) =>
        h.start([`--join=${first.address}:${first.apiPort}`, `--token-file=${tokenFile}`])
      ),
    );
    let voters: Host[] = [];
    let rttMs = 0;

    await t.step("three voters and a worker, with 100 ms of round trip between them", async () => {
      voters = await waitFor(
        "three voters",
        async () => {
          const { nodes } = await first.json<{ nodes: { name: string; role: string }[] }>(
            "/api/v1/nodes",
          );
          const names = nodes.filter((n) => n.role === "voter").map((n) => n.name);
          return names.length === 3 && cluster.hosts.filter((h) => names.includes(h.name));
        },
        60_000,
        500,
      );
      const probe = tlsHandshakeProbe(certs);
      // A member the tuners restart just now does not answer: measure again then.
      const rtts = await waitFor(
        "a round trip to every voter",
        async () => {
          const rs = await Promise.all(
            voters.map((v) => measurePeer(`https://${v.address}:${v.etcdPeerPort}`, { probe })),
          );
          for (const r of rs) if (r.rttMs === undefined) throw new Error(r.error);
          return rs;
        },
        60_000,
        500,
      );
      rttMs = Math.max(...rtts.map((r) => r.rttMs!));
      assert.ok(rttMs >= ADDED_RTT_MS, `measured ${rttMs.toFixed(1)} ms`);
      console.log(
        `round trip between hosts: ${rtts.map((r) => r.rttMs!.toFixed(1)).join(", ")} ms`,
      );
    });

    let elections = 0;
    await t.step(
      "every voter's etcd runs with heartbeat ≈ the round trip and election ≥ 10×, one restart at a time",
      async () => {
        const tuned = await waitFor(
          "every voter's etcd to be retuned and healthy",
          async () => {
            const ps = await Promise.all(voters.map(etcdProcess));
            const restarting = voters.flatMap(restartSpans).some((r) => r.to === Infinity);
            // Above the delay the relays add (the round trip is that and more; etcd's default
            // heartbeat equals it), not against this test's own sample: on a busy machine the
            // two samples differ, and the timing follows the tuner's.
            return !restarting &&
              ps.every((p) => p.heartbeatMs > ADDED_RTT_MS && p.electionMs > 10 * ADDED_RTT_MS) &&
              ps;
          },
          240_000,
          1000,
        );
        const took = (Date.now() - joined) / 1000;
        console.log(
          `converged ${took.toFixed(1)} s after the joins began: ` +
            tuned.map((p, i) => `${voters[i].name} ${p.heartbeatMs}/${p.electionMs} ms`).join(", "),
        );
        for (const p of tuned) {
          // About one round trip: the step's rounding and a busy machine's samples, not more.
          assert.ok(p.heartbeatMs <= 3 * ADDED_RTT_MS, `heartbeat ${p.heartbeatMs} ≈ ${rttMs}`);
          assert.equal(p.electionMs, 10 * p.heartbeatMs);
        }
        // Restarts never overlapped: each voter's from its log line "restarting" to "runs with".
        const spans = voters.flatMap(restartSpans);
        assert.ok(spans.length >= voters.length, `a restart a voter: ${JSON.stringify(spans)}`);
        spans.sort((a, b) => a.from - b.from);
        for (let i = 1; i < spans.length; i++) {
          assert.ok(spans[i].from >= spans[i - 1].to, `overlap: ${JSON.stringify(spans)}`);
        }
        elections = (await etcdStatus(first, client)).raftTerm - termBefore;
        const since = (ms: number) => ((ms - joined) / 1000).toFixed(1);
        console.log(
          `restarts (s after the joins began): ` +
            spans.map((r) => `${r.host} ${since(r.from)}–${since(r.to)}`).join(", "),
        );
      },
    );

    await t.step("a minute of steady state: no leader change, no restart", async () => {
      const pids = (await Promise.all(voters.map(etcdProcess))).map((p) => p.pid);
      const before = await Promise.all(voters.map((v) => etcdStatus(v, client)));
      const seenBefore = await Promise.all(voters.map((v) => etcdMetrics(v, client)));
      const end = performance.now() + STEADY_MS;
      // An observation window, not a wait: every sample must see the same leader and term.
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, 2000));
        const now = await Promise.all(voters.map((v) => etcdStatus(v, client)));
        assert.deepEqual(now, before, "every member sees the same leader in the same term");
        assert.deepEqual((await Promise.all(voters.map(etcdProcess))).map((p) => p.pid), pids);
      }
      const after = await Promise.all(voters.map((v) => etcdMetrics(v, client)));
      const changes = after.map((m, i) => m.leaderChanges - seenBefore[i].leaderChanges);
      console.log(
        `elections while tuning: ${elections} (raft terms); leader changes in ` +
          `${STEADY_MS / 1000} s of steady state: ${changes.join(", ")}; round trip etcd ` +
          `measured to its peers: ${after.map((m) => m.peerRttMs.toFixed(1)).join(", ")} ms`,
      );
      assert.deepEqual(changes, [0, 0, 0]);
      // etcd's own traffic goes through the relays too (without them this is under a ms; etcd's
      // smoothed estimate starts from zero, so it stays below the real round trip for a while).
      for (const m of after) assert.ok(m.peerRttMs >= ADDED_RTT_MS / 2, `${m.peerRttMs} ms`);
    });
  } finally {
    client.close();
  }
});
