import assert from "node:assert/strict";
import { freePort } from "../../test/helpers/ports.ts";
import { ensureNodeCerts, loadOrCreateCA } from "./certs.ts";
import { connectEtcd } from "./client.ts";
import { EtcdSupervisor } from "./supervisor.ts";

Deno.test("a member that advertises an address it does not listen on is healthy and reachable on loopback", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
  const ca = await loadOrCreateCA(`${dir}/pki`);
  // The advertised address is not on this machine: bound to loopback only, as the bench runs it.
  const tls = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n", ips: ["192.0.2.77"] });
  const etcd = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n",
    clientPort: freePort(),
    peerPort: freePort(),
    host: "192.0.2.77",
    listenHost: "127.0.0.1",
    tls,
  });
  try {
    await etcd.start();
    assert.match(etcd.clientUrl, /^https:\/\/192\.0\.2\.77:/);
    const client = connectEtcd([etcd.localClientUrl], tls);
    try {
      await client.put("k").value("v").exec();
      assert.equal(await client.get("k").string(), "v");
    } finally {
      client.close();
    }
  } finally {
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The flags of a running process, from /proc. */
async function argsOf(pid: number | undefined): Promise<string[]> {
  assert.ok(pid, "the member runs");
  return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").filter(Boolean);
}

Deno.test("timing flags reach etcd, and restartWith brings the member back healthy with new ones and its data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
  const ca = await loadOrCreateCA(`${dir}/pki`);
  const tls = await ensureNodeCerts(`${dir}/pki`, ca, { nodeName: "n", ips: [] });
  const etcd = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n",
    clientPort: freePort(),
    peerPort: freePort(),
    tls,
    heartbeatMs: 150,
    electionMs: 1500,
  });
  try {
    await etcd.start();
    const first = await argsOf(etcd.pid);
    assert.ok(first.includes("--heartbeat-interval=150"), first.join(" "));
    assert.ok(first.includes("--election-timeout=1500"), first.join(" "));
    const client = connectEtcd([etcd.localClientUrl], tls);
    try {
      await client.put("k").value("before").exec();
      const before = etcd.pid;
      await etcd.restartWith({ heartbeatMs: 300, electionMs: 3000 });
      assert.notEqual(etcd.pid, before, "a new process");
      assert.equal(etcd.healthy, true);
      assert.deepEqual(etcd.timing, { heartbeatMs: 300, electionMs: 3000 });
      const args = await argsOf(etcd.pid);
      assert.ok(args.includes("--heartbeat-interval=300"), args.join(" "));
      assert.ok(args.includes("--election-timeout=3000"), args.join(" "));
      assert.equal(args.filter((a) => a.startsWith("--heartbeat-interval")).length, 1);
      assert.equal(await client.get("k").string(), "before", "the data survived");
      assert.equal(await etcd.checkHealth(), true, "still supervised after the restart");
    } finally {
      client.close();
    }
  } finally {
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a member without timing options runs etcd's defaults and says so; bad timing is refused up front", () => {
  const base = { bin: "etcd", dataDir: "/nonexistent", name: "n", clientPort: 1, peerPort: 2 };
  assert.deepEqual(new EtcdSupervisor(base).timing, { heartbeatMs: 100, electionMs: 1000 });
  assert.throws(
    () => new EtcdSupervisor({ ...base, heartbeatMs: 300 }),
    /election timeout 1000 ms is under 5 heartbeats \(300 ms\).*at least 1500 ms/,
  );
});

Deno.test("a stop() that comes while restartWith runs wins: no member is left running", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-etcd-" });
  const etcd = new EtcdSupervisor({
    bin: "etcd",
    dataDir: `${dir}/etcd`,
    name: "n",
    clientPort: freePort(),
    peerPort: freePort(),
  });
  try {
    await etcd.start();
    const pid = etcd.pid!;
    // Caught at once: it may fail while stop() is still under way, before anyone awaits it.
    const restarting = etcd.restartWith({ heartbeatMs: 200, electionMs: 2000 }).then(
      () => undefined,
      (err: Error) => err,
    );
    await etcd.stop();
    assert.match(String((await restarting)?.message), /stopped before/);
    assert.equal(etcd.pid, undefined);
    assert.equal(await Deno.stat(`/proc/${pid}`).catch(() => undefined), undefined);
    assert.equal(await Deno.stat(`${dir}/etcd.pid`).catch(() => undefined), undefined);
  } finally {
    await etcd.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
