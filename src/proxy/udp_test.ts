import assert from "node:assert/strict";
import type { ReplicaStatus, ServiceRecord } from "../state/types.ts";
import { MemoryView } from "../state/view.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { closedPort, replica, service } from "./test_util.ts";
import { UdpForwarder, type UdpForwarderOptions } from "./udp.ts";

const LOOPBACK = "127.0.0.1";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A service whose container port 53 is published over UDP on `published`. */
function udpService(name: string, published: number): ServiceRecord {
  const record = service(name, 1, false);
  record.spec.ports = [{ container: 53, http: false, published, protocol: "udp" }];
  return record;
}

function udpReplica(svc: string, index: number, hostPort: number, ready = true): ReplicaStatus {
  return replica(svc, index, hostPort, { ports: { "53/udp": hostPort }, ready });
}

/** A UDP server that answers each datagram with `name: text`, counting the clients it saw. */
function echo(name: string) {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  const clients = new Set<string>();
  const loop = (async () => {
    for (;;) {
      try {
        const [data, from] = await conn.receive();
        const addr = from as Deno.NetAddr;
        clients.add(`${addr.hostname}:${addr.port}`);
        await conn.send(enc.encode(`${name}: ${dec.decode(data)}`), from);
      } catch {
        return;
      }
    }
  })();
  return {
    port: (conn.addr as Deno.NetAddr).port,
    clients,
    async close() {
      conn.close();
      await loop;
    },
  };
}

/** A client socket that sends to `port` and waits up to `ms` for one reply. */
function client() {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: LOOPBACK, port: 0 });
  return {
    async ask(port: number, text: string, ms = 1000): Promise<string | undefined> {
      await conn.send(enc.encode(text), { transport: "udp", hostname: LOOPBACK, port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
      try {
        const got = await Promise.race([conn.receive().then(([d]) => dec.decode(d)), late]);
        return got;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => conn.close(),
  };
}

/** A forwarder on loopback for one service, `dns`, publishing container port 53 over UDP. */
function forwarder(
  replicas: ReplicaStatus[],
  extra: Partial<UdpForwarderOptions> = {},
) {
  const published = closedPort();
  const view = new MemoryView();
  view.serviceMap.set("dns", udpService("dns", published));
  for (const r of replicas) view.putReplica(r);
  const fwd = new UdpForwarder({ view, hostname: LOOPBACK, ...extra });
  return { published, view, fwd };
}

Deno.test("a published UDP port forwards each client to a ready replica and brings its replies back", async () => {
  const a = echo("a");
  const { published, fwd } = forwarder([udpReplica("dns", 0, a.port)]);
  const c = client();
  try {
    fwd.sync();
    assert.deepEqual(fwd.listening(), [published]);
    assert.equal(await c.ask(published, "one"), "a: one");
    assert.equal(await c.ask(published, "two"), "a: two");
    assert.equal(fwd.sessions(published), 1, "one client, one session");
    assert.equal(a.clients.size, 1);
  } finally {
    c.close();
    await fwd.stop();
    await a.close();
  }
});

Deno.test("when its replica stops being ready, a client's next datagram goes to a live one", async () => {
  const a = echo("a");
  const b = echo("b");
  const { published, view, fwd } = forwarder([udpReplica("dns", 0, a.port)]);
  const c = client();
  try {
    fwd.sync();
    assert.equal(await c.ask(published, "x"), "a: x");
    view.putReplica(udpReplica("dns", 0, a.port, false));
    view.putReplica(udpReplica("dns", 1, b.port));
    fwd.sync();
    assert.equal(fwd.sessions(published), 0, "the session to the replica that went was ended");
    assert.equal(await c.ask(published, "y"), "b: y");
  } finally {
    c.close();
    await fwd.stop();
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("without a ready replica datagrams are dropped and counted; the port stays open", async () => {
  const { published, view, fwd } = forwarder([]);
  const c = client();
  const a = echo("a");
  try {
    fwd.sync();
    assert.equal(await c.ask(published, "lost", 300), undefined);
    view.putReplica(udpReplica("dns", 0, a.port));
    fwd.sync();
    assert.equal(await c.ask(published, "found"), "a: found");
  } finally {
    c.close();
    await fwd.stop();
    await a.close();
  }
});

Deno.test("sessions are bounded: past the limit the least recently used goes; idle ones end", async () => {
  const a = echo("a");
  let now = 0;
  const { published, fwd } = forwarder([udpReplica("dns", 0, a.port)], {
    maxSessions: 2,
    idleMs: 50,
    now: () => now,
  });
  const clients = [client(), client(), client()];
  try {
    fwd.sync();
    for (const [i, c] of clients.entries()) assert.equal(await c.ask(published, `${i}`), `a: ${i}`);
    assert.equal(fwd.sessions(published), 2);
    now += 1000;
    await waitFor("idle sessions to end", () => fwd.sessions(published) === 0, 5000);
  } finally {
    for (const c of clients) c.close();
    await fwd.stop();
    await a.close();
  }
});

Deno.test("a UDP port the agent uses, or a TCP-only published port, is not listened on", async () => {
  const published = closedPort();
  const view = new MemoryView();
  view.serviceMap.set("dns", udpService("dns", published));
  const tcp = service("web", 1, false);
  tcp.spec.ports = [{ container: 80, http: false, published: closedPort() }];
  view.serviceMap.set("web", tcp);
  const fwd = new UdpForwarder({ view, hostname: LOOPBACK, reservedPorts: [published] });
  try {
    fwd.sync();
    assert.deepEqual(fwd.listening(), []);
  } finally {
    await fwd.stop();
  }
});
