import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import type { ReplicaStatus, ServiceRecord } from "../state/types.ts";
import { MemoryView } from "../state/view.ts";
import { closeQuietly, writeAll } from "../util/conn.ts";
import { createLogger } from "../util/log.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import {
  assignPorts,
  backendsOf,
  orderBackends,
  TCP_CONNECTIONS_METRIC,
  type TcpBackend,
  type TcpConnect,
  TcpForwarder,
  type TcpForwarderOptions,
} from "./tcp.ts";
import { closedPort, replica, service } from "./test_util.ts";

const CONTAINER = 25565;
const LOOPBACK = "127.0.0.1";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A service whose one port, CONTAINER, is published on `published`. */
function tcpService(name: string, published: number, replicas = 1): ServiceRecord {
  const record = service(name, replicas, false);
  record.spec.ports = [{ container: CONTAINER, http: false, published }];
  return record;
}

/** A ready replica whose CONTAINER port is on 127.0.0.1:`hostPort`. */
function tcpReplica(
  svc: string,
  index: number,
  hostPort: number,
  extra: Partial<ReplicaStatus> = {},
): ReplicaStatus {
  return replica(svc, index, hostPort, { ports: { [String(CONTAINER)]: hostPort }, ...extra });
}

/** A stand-in for a replica's host port. */
interface Server {
  port: number;
  accepted: number;
  /** Connections not closed yet. */
  open(): number;
  close(): Promise<void>;
}

/**
 * Starts a server on a free loopback port. `echo` sends back what it reads as it reads it;
 * `gather` sends nothing until the client half-closes, then sends it all back. Either may greet
 * first, and half-closes when the client has.
 */
function startServer(mode: "echo" | "gather", greeting = ""): Server {
  const listener = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const conns = new Set<Deno.Conn>();
  const handlers = new Set<Promise<void>>();
  const server: Server = {
    port: listener.addr.port,
    accepted: 0,
    open: () => conns.size,
    close: async () => {},
  };
  const handle = async (conn: Deno.Conn) => {
    conns.add(conn);
    try {
      if (greeting) await writeAll(conn, enc.encode(greeting));
      if (mode === "gather") await writeAll(conn, await readAll(conn));
      else await echo(conn);
      await conn.closeWrite();
    } catch {
      // The test closed the connection or the server.
    } finally {
      conns.delete(conn);
      closeQuietly(conn);
    }
  };
  const loop = (async () => {
    for await (const conn of listener) {
      server.accepted++;
      const h = handle(conn);
      handlers.add(h);
      h.finally(() => handlers.delete(h));
    }
  })().catch(() => {});
  server.close = async () => {
    closeQuietly(listener);
    for (const c of conns) closeQuietly(c);
    await loop;
    await Promise.all(handlers);
  };
  return server;
}

async function echo(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return;
    await writeAll(conn, buf.subarray(0, n));
  }
}

/** Reads until end-of-stream; a reset counts as the end. */
async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionReset)) throw err;
  }
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let off = 0;
  for (const c of chunks) (out.set(c, off), off += c.length);
  return out;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<string> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const got = await conn.read(out.subarray(off));
    if (got === null) throw new Error(`connection closed after ${off} of ${n} bytes`);
    off += got;
  }
  return dec.decode(out);
}

/** Sends `text`, half-closes, and returns everything the other side sent back. */
async function exchange(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: LOOPBACK, port });
  try {
    await writeAll(conn, enc.encode(text));
    await conn.closeWrite();
    return dec.decode(await readAll(conn));
  } finally {
    closeQuietly(conn);
  }
}

/** True when nothing listens on the loopback port any more. */
async function refused(port: number): Promise<boolean> {
  try {
    closeQuietly(await Deno.connect({ hostname: LOOPBACK, port }));
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

interface Harness {
  fwd: TcpForwarder;
  view: MemoryView;
  lines: string[];
  count(service: string, result: string): number;
  /** Moves the injected clock forward. */
  advance(ms: number): void;
}

async function withForwarder(
  setup: (view: MemoryView) => void,
  fn: (h: Harness) => Promise<void>,
  extra: Partial<TcpForwarderOptions> = {},
): Promise<void> {
  const view = new MemoryView();
  setup(view);
  const lines: string[] = [];
  const metrics = new Registry();
  let t = 1_000_000;
  const fwd = new TcpForwarder({
    view,
    hostname: LOOPBACK,
    metrics,
    log: createLogger("tcp", { sink: (l) => lines.push(l), level: "info" }),
    now: () => t,
    ...extra,
  });
  try {
    fwd.sync();
    await fn({
      fwd,
      view,
      lines,
      count: (service, result) =>
        metrics.counter(TCP_CONNECTIONS_METRIC, "").get({ service, result }),
      advance: (ms) => (t += ms),
    });
  } finally {
    await fwd.stop();
  }
}

function matching(lines: string[], re: RegExp): string[] {
  return lines.filter((l) => re.test(l));
}

Deno.test("a published port carries an echo round trip to the replica's host port", async () => {
  const backend = startServer("echo");
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port));
      view.putReplica(tcpReplica("mc", 0, backend.port));
    }, async ({ fwd, count }) => {
      assert.deepEqual(fwd.listening(), [port]);
      assert.equal(await exchange(port, "hello minecraft"), "hello minecraft");
      assert.equal(backend.accepted, 1);
      assert.equal(count("mc", "ok"), 1);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("connections go round-robin over the ready replicas", async () => {
  const a = startServer("echo", "a");
  const b = startServer("echo", "b");
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port, 2));
      view.putReplica(tcpReplica("mc", 0, a.port));
      view.putReplica(tcpReplica("mc", 1, b.port));
    }, async ({ count }) => {
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await exchange(port, ""));
      assert.deepEqual(seen, ["a", "b", "a", "b"]);
      assert.equal(count("mc", "ok"), 4);
    });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("a replica that refuses is skipped for a while, then tried again", async () => {
  const live = startServer("echo", "live");
  const dead = closedPort();
  const attempts: number[] = [];
  const connect: TcpConnect = (hostname, port, signal) => {
    attempts.push(port);
    return Deno.connect({ hostname, port, signal });
  };
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port, 2));
      view.putReplica(tcpReplica("mc", 0, dead));
      view.putReplica(tcpReplica("mc", 1, live.port));
    }, async ({ count, advance }) => {
      for (let i = 0; i < 3; i++) assert.equal(await exchange(port, ""), "live");
      assert.equal(attempts.filter((p) => p === dead).length, 1, "marked out after one refusal");
      advance(6000);
      for (let i = 0; i < 2; i++) assert.equal(await exchange(port, ""), "live");
      assert.equal(attempts.filter((p) => p === dead).length, 2, "tried again once out expired");
      assert.equal(count("mc", "ok"), 5);
      assert.equal(count("mc", "failed"), 0);
    }, { connect });
  } finally {
    await live.close();
  }
});

Deno.test("a replica that does not answer in time is given up for the next", async () => {
  const live = startServer("echo", "live");
  const silent = closedPort();
  let hung = 0;
  const connect: TcpConnect = (hostname, port, signal) => {
    if (port !== silent) return Deno.connect({ hostname, port, signal });
    hung++;
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port, 2));
      view.putReplica(tcpReplica("mc", 0, silent));
      view.putReplica(tcpReplica("mc", 1, live.port));
    }, async ({ count }) => {
      const started = Date.now();
      assert.equal(await exchange(port, ""), "live");
      assert.equal(hung, 1);
      assert.ok(Date.now() - started >= 100, "waited for the timeout");
      assert.equal(count("mc", "ok"), 1);
    }, { connect, connectTimeoutMs: 100 });
  } finally {
    await live.close();
  }
});

Deno.test("when every replica refuses, clients are closed and it is logged once", async () => {
  const port = closedPort();
  await withForwarder((view) => {
    view.serviceMap.set("mc", tcpService("mc", port));
    view.putReplica(tcpReplica("mc", 0, closedPort()));
  }, async ({ count, lines }) => {
    for (let i = 0; i < 3; i++) assert.equal(await exchange(port, "anyone?"), "");
    assert.equal(count("mc", "failed"), 3);
    assert.equal(matching(lines, /WARN .*no replica accepts/).length, 1);
  });
});

Deno.test("no ready replica closes the connection, logged once per change", async () => {
  const backend = startServer("echo", "up");
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port));
      view.putReplica(tcpReplica("mc", 0, backend.port, { ready: false, state: "starting" }));
    }, async ({ view, count, lines }) => {
      for (let i = 0; i < 3; i++) assert.equal(await exchange(port, "hi"), "");
      assert.equal(backend.accepted, 0);
      assert.equal(count("mc", "no_replica"), 3);
      const warned = matching(lines, /WARN .*no ready replica/);
      assert.equal(warned.length, 1);
      assert.match(warned[0], /starting/, "says why");
      view.putReplica(tcpReplica("mc", 0, backend.port));
      assert.equal(await exchange(port, "hi"), "uphi");
      assert.equal(matching(lines, /INFO .*reach a replica again/).length, 1);
    });
  } finally {
    await backend.close();
  }
});

Deno.test("removing the service closes its listener; open connections finish", async () => {
  const backend = startServer("echo");
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port));
      view.putReplica(tcpReplica("mc", 0, backend.port));
    }, async ({ fwd, view }) => {
      const open = await Deno.connect({ hostname: LOOPBACK, port });
      try {
        await writeAll(open, enc.encode("one"));
        assert.equal(await readExactly(open, 3), "one");
        view.serviceMap.delete("mc");
        fwd.sync();
        assert.deepEqual(fwd.listening(), []);
        // The socket is released once the pending accept is cancelled, a moment after close.
        await waitFor("new connections to be refused", () => refused(port), 5000, 10);
        await writeAll(open, enc.encode("two"));
        assert.equal(await readExactly(open, 3), "two", "the open connection still works");
      } finally {
        closeQuietly(open);
      }
    });
  } finally {
    await backend.close();
  }
});

Deno.test("a port in use is reported, then picked up on a later sync once freed", async () => {
  const backend = startServer("echo");
  const blocker = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const port = blocker.addr.port;
  try {
    await withForwarder((view) => {
      view.serviceMap.set("mc", tcpService("mc", port));
      view.putReplica(tcpReplica("mc", 0, backend.port));
    }, async ({ fwd, lines, advance }) => {
      assert.deepEqual(fwd.listening(), []);
      const warned = matching(lines, /WARN .*cannot listen on published port/);
      assert.equal(warned.length, 1);
      assert.match(warned[0], /in use/i, "gives the reason");
      assert.match(warned[0], /service=mc/);
      fwd.sync();
      assert.equal(matching(lines, /WARN .*cannot listen/).length, 1, "not repeated");
      blocker.close();
      fwd.sync();
      assert.deepEqual(fwd.listening(), [], "no retry before the retry interval");
      advance(5000);
      fwd.sync();
      assert.deepEqual(fwd.listening(), [port]);
      assert.equal(await exchange(port, "finally"), "finally");
    });
  } finally {
    closeQuietly(blocker);
    await backend.close();
  }
});

Deno.test("stop() closes live connections and every listener", async () => {
  const backend = startServer("echo");
  const port = closedPort();
  const view = new MemoryView();
  view.serviceMap.set("mc", tcpService("mc", port));
  view.putReplica(tcpReplica("mc", 0, backend.port));
  const fwd = new TcpForwarder({ view, hostname: LOOPBACK });
  let conn: Deno.TcpConn | undefined;
  try {
    fwd.sync();
    conn = await Deno.connect({ hostname: LOOPBACK, port });
    await writeAll(conn, enc.encode("ping"));
    assert.equal(await readExactly(conn, 4), "ping");
    await fwd.stop();
    assert.deepEqual(fwd.listening(), []);
    assert.equal((await readAll(conn)).length, 0, "the client sees the end");
    await waitFor("the replica side to close", () => backend.open() === 0, 5000, 10);
    await assert.rejects(Deno.connect({ hostname: LOOPBACK, port }));
    fwd.sync();
    assert.deepEqual(fwd.listening(), [], "sync after stop opens nothing");
  } finally {
    if (conn) closeQuietly(conn);
    await fwd.stop();
    await backend.close();
  }
});

Deno.test("1 MiB passes intact both ways, and a half-close still gets the reply", async (t) => {
  const gather = startServer("gather");
  const echoer = startServer("echo");
  const gatherPort = closedPort();
  const echoPort = closedPort();
  const data = new Uint8Array(1024 * 1024);
  for (let off = 0; off < data.length; off += 65536) {
    crypto.getRandomValues(data.subarray(off, off + 65536));
  }
  const send = async (port: number) => {
    const conn = await Deno.connect({ hostname: LOOPBACK, port });
    try {
      const writing = (async () => {
        await writeAll(conn, data);
        await conn.closeWrite();
      })();
      const [back] = await Promise.all([readAll(conn), writing]);
      return back;
    } finally {
      closeQuietly(conn);
    }
  };
  try {
    await withForwarder((view) => {
      view.serviceMap.set("gather", tcpService("gather", gatherPort));
      view.putReplica(tcpReplica("gather", 0, gather.port));
      view.serviceMap.set("echo", tcpService("echo", echoPort));
      view.putReplica(tcpReplica("echo", 0, echoer.port));
    }, async ({ count }) => {
      await t.step("reply sent only after the client's half-close", async () => {
        const back = await send(gatherPort);
        assert.equal(back.length, data.length);
        assert.ok(back.every((b, i) => b === data[i]), "same bytes");
      });
      await t.step("streamed echo while still sending", async () => {
        const back = await send(echoPort);
        assert.equal(back.length, data.length);
        assert.ok(back.every((b, i) => b === data[i]), "same bytes");
      });
      assert.equal(count("gather", "ok") + count("echo", "ok"), 2);
    });
  } finally {
    await Promise.all([gather.close(), echoer.close()]);
  }
});

Deno.test("two services on one port: the first by name wins, the other is logged", async () => {
  const a = startServer("echo", "alpha");
  const b = startServer("echo", "beta");
  const port = closedPort();
  try {
    await withForwarder((view) => {
      view.serviceMap.set("beta", tcpService("beta", port));
      view.putReplica(tcpReplica("beta", 0, b.port));
      view.serviceMap.set("alpha", tcpService("alpha", port));
      view.putReplica(tcpReplica("alpha", 0, a.port));
    }, async ({ fwd, view, lines }) => {
      assert.equal(await exchange(port, ""), "alpha");
      const warned = matching(lines, /WARN .*published port not served/);
      assert.equal(warned.length, 1);
      assert.match(warned[0], /service=beta/);
      assert.match(warned[0], /alpha publishes it too/);
      fwd.sync();
      assert.equal(matching(lines, /not served/).length, 1, "logged once, not on every sync");
      view.serviceMap.delete("alpha");
      fwd.sync();
      assert.deepEqual(fwd.listening(), [port]);
      assert.equal(await exchange(port, ""), "beta", "the other service takes the port over");
    });
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("a reserved port is never listened on", async () => {
  const port = closedPort();
  await withForwarder((view) => {
    view.serviceMap.set("mc", tcpService("mc", port));
  }, ({ fwd, lines }) => {
    assert.deepEqual(fwd.listening(), []);
    assert.equal(matching(lines, /WARN .*not served.*agent itself uses it/).length, 1);
    return Promise.resolve();
  }, { reservedPorts: [port] });
});

Deno.test("bad options are refused with a clear error", () => {
  const view = new MemoryView();
  assert.throws(() => new TcpForwarder({ view, connectTimeoutMs: 0 }), /connectTimeoutMs 0/);
  assert.throws(() => new TcpForwarder({ view, reservedPorts: [70000] }), /70000 must be 1/);
});

Deno.test("assignPorts takes services by name and refuses bad or taken ports", () => {
  const withPorts = (name: string, ports: number[]) => {
    const s = tcpService(name, 0);
    s.spec.ports = ports.map((p, i) => ({ container: 1000 + i, http: false, published: p }));
    return s;
  };
  const { owners, conflicts } = assignPorts(
    [withPorts("zed", [25565, 7000]), withPorts("abc", [25565, 0, 25566])],
    new Set([7000]),
  );
  assert.deepEqual([...owners], [
    [25565, { service: "abc", container: 1000 }],
    [25566, { service: "abc", container: 1002 }],
  ]);
  assert.deepEqual(conflicts.map((c) => `${c.service}:${c.port}`), [
    "abc:0",
    "zed:25565",
    "zed:7000",
  ]);
});

Deno.test("backendsOf keeps ready replicas that publish the port; orderBackends rotates", () => {
  const rs = [
    tcpReplica("mc", 0, 40000),
    tcpReplica("mc", 1, 40001, { ready: false }),
    tcpReplica("mc", 2, 40002, { ports: { "80": 40003 } }),
    tcpReplica("mc", 3, 40004, { address: "10.0.0.4" }),
  ];
  const backends = backendsOf(rs, CONTAINER);
  assert.deepEqual(backends.map((b) => b.key), ["127.0.0.1:40000", "10.0.0.4:40004"]);
  const keys = (bs: TcpBackend[]) => bs.map((b) => b.port);
  assert.deepEqual(keys(orderBackends(backends, 1, () => false)), [40004, 40000]);
  assert.deepEqual(keys(orderBackends(backends, 2, (b) => b.port === 40000)), [40004]);
  assert.deepEqual(
    keys(orderBackends(backends, 0, () => true)),
    [40000, 40004],
    "all out: try all",
  );
  assert.deepEqual(orderBackends([], 3, () => false), []);
});

Deno.test("stop() gives up a connection attempt still waiting for its replica", async () => {
  const port = closedPort();
  let hung = 0;
  const connect: TcpConnect = (_hostname, _port, signal) => {
    hung++;
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
  const view = new MemoryView();
  view.serviceMap.set("mc", tcpService("mc", port));
  view.putReplica(tcpReplica("mc", 0, closedPort()));
  const fwd = new TcpForwarder({ view, hostname: LOOPBACK, connect, connectTimeoutMs: 60_000 });
  let conn: Deno.TcpConn | undefined;
  try {
    fwd.sync();
    conn = await Deno.connect({ hostname: LOOPBACK, port });
    await waitFor("the attempt to start", () => hung === 1, 5000, 10);
    const started = Date.now();
    await fwd.stop();
    assert.ok(Date.now() - started < 5000, "did not wait for the connect timeout");
    assert.equal((await readAll(conn)).length, 0, "the client sees the end");
  } finally {
    if (conn) closeQuietly(conn);
    await fwd.stop();
  }
});
