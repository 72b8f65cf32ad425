import assert from "node:assert/strict";
import { freePort } from "../../test/helpers/ports.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { DelayRelay } from "../../test/helpers/delay_relay.ts";
import { createLogger } from "../util/log.ts";
import { ensureNodeCerts, loadOrCreateCA } from "./certs.ts";
import {
  measurePeer,
  measurePeers,
  median,
  peerAddress,
  type RoundTripProbe,
  tcpConnectProbe,
  tlsHandshakeProbe,
} from "./rtt.ts";
import { EtcdSupervisor } from "./supervisor.ts";

/** A probe that answers each sample from a list: a number of ms, or an error to throw. */
function scripted(answers: (number | string)[]): RoundTripProbe & { asked: string[] } {
  const asked: string[] = [];
  const probe = (t: { host: string; port: number }) => {
    asked.push(`${t.host}:${t.port}`);
    const a = answers.shift();
    return typeof a === "number" ? Promise.resolve(a) : Promise.reject(new Error(a));
  };
  return Object.assign(probe, { asked });
}

Deno.test("median of odd and even counts, whatever the order", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), /no values/);
});

Deno.test("a peer URL gives host and port, brackets of IPv6 removed; junk says what is expected", () => {
  assert.deepEqual(peerAddress("https://10.0.0.2:2380"), { host: "10.0.0.2", port: 2380 });
  assert.deepEqual(peerAddress("https://[fd00::2]:12380"), { host: "fd00::2", port: 12380 });
  assert.throws(() => peerAddress("10.0.0.2:2380 "), /scheme:\/\/host:port/);
});

Deno.test("a peer's round trip is the median of its samples, dialled at the URL's host and port", async () => {
  const probe = scripted([120, 101, 900, 99, 100]);
  const r = await measurePeer("https://10.0.0.2:2380", { probe });
  assert.deepEqual(r, { url: "https://10.0.0.2:2380", rttMs: 101 });
  assert.deepEqual(new Set(probe.asked), new Set(["10.0.0.2:2380"]));
  assert.equal(probe.asked.length, 5);
});

Deno.test("a minority of failed samples still measures; a majority gives the peer an error", async () => {
  const some = await measurePeer("https://a:1", {
    probe: scripted([10, "ECONNRESET", 12, "ECONNRESET", 11]),
  });
  assert.equal(some.rttMs, 11);
  const most = await measurePeer("https://a:1", {
    probe: scripted([10, "ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED", 11]),
  });
  assert.equal(most.rttMs, undefined);
  assert.match(most.error!, /3 of 5 round trips to https:\/\/a:1 failed: ECONNREFUSED/);
});

Deno.test("a sample that never answers times out and its probe is told to give up", async () => {
  const aborted: boolean[] = [];
  const hang: RoundTripProbe = (_t, signal) =>
    new Promise((_, reject) =>
      signal.addEventListener("abort", () => {
        aborted.push(true);
        reject(new Error("aborted"));
      })
    );
  const r = await measurePeer("https://a:1", { probe: hang, samples: 3, timeoutMs: 30 });
  assert.match(r.error!, /3 of 3 .* no answer within 30 ms/);
  assert.equal(aborted.length, 3);
});

Deno.test("every peer is measured; a bad URL is that peer's error, not the others'", async () => {
  const rs = await measurePeers(["https://a:1", "nonsense", "https://b:2"], {
    probe: (t) => Promise.resolve(t.host === "a" ? 5 : 7),
  });
  assert.deepEqual(rs.map((r) => r.rttMs), [5, undefined, 7]);
  assert.match(rs[1].error!, /not a URL/);
});

Deno.test("TCP connect to a real local listener measures; a closed port is an error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of listener) conn.close();
  })();
  try {
    const r = await measurePeer(`http://127.0.0.1:${listener.addr.port}`, {
      probe: tcpConnectProbe(),
    });
    assert.ok(r.rttMs !== undefined && r.rttMs >= 0 && r.rttMs < 1000, JSON.stringify(r));
  } finally {
    listener.close();
    await accepting.catch(() => {});
  }
  const closed = await measurePeer(`http://127.0.0.1:${freePort()}`, {
    probe: tcpConnectProbe(),
    samples: 1,
  });
  assert.match(closed.error!, /ECONNREFUSED|refused/i);
});

Deno.test("the TLS handshake probe measures a real member's peer port and leaves its log quiet (a bare connect does not)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-rtt-" });
  const warnings: string[] = [];
  const log = createLogger("etcd", { level: "warn", sink: (l) => warnings.push(l) });
  const ca = await loadOrCreateCA(`${dir}/pki`);
  const certs = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n", ips: [] });
  const etcd = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n",
    clientPort: freePort(),
    peerPort: freePort(),
    tls: certs,
    log,
  });
  try {
    await etcd.start();
    const before = warnings.length;
    const r = await measurePeer(etcd.peerUrl, { probe: tlsHandshakeProbe(certs) });
    assert.ok(r.rttMs !== undefined && r.rttMs < 1000, JSON.stringify(r));
    // etcd would log a rejected connection by now; its log lines come through the pipe.
    await new Promise((res) => setTimeout(res, 300));
    assert.deepEqual(warnings.slice(before), []);
    // Why the agent does not time a bare TCP connect: the member logs each one it gets.
    await measurePeer(etcd.peerUrl, { probe: tcpConnectProbe(), samples: 1 });
    await waitFor("etcd to log the bare connect", () => warnings.slice(before).length > 0);
    assert.match(warnings.slice(before).join("\n"), /rejected connection/);
  } finally {
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("through a relay that holds chunks 50 ms, the TLS probe sees 100 ms more and a TCP connect does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-rtt-" });
  const ca = await loadOrCreateCA(`${dir}/pki`);
  const certs = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n", ips: [] });
  const peerPort = freePort();
  const etcd = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n",
    clientPort: freePort(),
    peerPort,
    tls: certs,
  });
  try {
    await etcd.start();
    await using relay = DelayRelay.start({
      port: 0,
      target: { hostname: "127.0.0.1", port: peerPort },
      delayMs: 50,
    });
    const url = `https://127.0.0.1:${relay.port}`;
    const direct = await measurePeer(etcd.peerUrl, { probe: tlsHandshakeProbe(certs) });
    const relayed = await measurePeer(url, { probe: tlsHandshakeProbe(certs) });
    // One round trip more, not two: the delay cannot be missed, and noise on a busy machine
    // only ever adds, so the bounds are the relayed time and the difference below 200.
    const added = relayed.rttMs! - direct.rttMs!;
    assert.ok(relayed.rttMs! >= 100, `the relayed handshake took ${relayed.rttMs!.toFixed(1)} ms`);
    assert.ok(added < 200, `the handshake took ${added.toFixed(1)} ms more`);
    const connect = await measurePeer(url, { probe: tcpConnectProbe(), samples: 1 });
    assert.ok(connect.rttMs! < 50, `connect ${connect.rttMs!.toFixed(1)} ms`);
  } finally {
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the TLS probe says which certificate file it cannot read", () => {
  assert.throws(
    () => tlsHandshakeProbe({ caFile: "/nonexistent/ca.crt", certFile: "/x", keyFile: "/y" }),
    /cannot read \/nonexistent\/ca\.crt .*re-create the node certificates/,
  );
});
