import assert from "node:assert/strict";
import { freePort } from "../../test/helpers/ports.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { closeQuietly, type TcpConnect, writeAll } from "../util/conn.ts";
import { createLogger } from "../util/log.ts";
import { dialOrder, EtcdBalancer, type EtcdBalancerOptions, parseEndpoint } from "./balancer.ts";

const LOOPBACK = "127.0.0.1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A TCP server that greets each connection with its one-letter name, then echoes; `close()` ends
 * it and every connection it took.
 */
class NamedEcho {
  readonly listener: Deno.TcpListener;
  readonly conns = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #loop: Promise<void>;

  constructor(readonly name: string, port = 0) {
    this.listener = Deno.listen({ hostname: LOOPBACK, port });
    this.#loop = this.#accept();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  get url(): string {
    return `https://${LOOPBACK}:${this.port}`;
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.listener.accept();
      } catch {
        return;
      }
      this.conns.add(conn);
      const h = this.#echo(conn).finally(() => {
        this.conns.delete(conn);
        this.#handlers.delete(h);
      });
      this.#handlers.add(h);
    }
  }

  async #echo(conn: Deno.Conn): Promise<void> {
    try {
      await writeAll(conn, encoder.encode(this.name));
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        await writeAll(conn, buf.subarray(0, n));
      }
    } catch {
      // closed by the test or the balancer
    } finally {
      closeQuietly(conn);
    }
  }

  async close(): Promise<void> {
    closeQuietly(this.listener);
    for (const c of this.conns) closeQuietly(c);
    await Promise.all([this.#loop, ...this.#handlers]);
  }
}

/** Reads exactly `n` bytes, or null when the connection ends (or fails) first. */
async function readN(conn: Deno.Conn, n: number): Promise<string | null> {
  const buf = new Uint8Array(n);
  let off = 0;
  try {
    while (off < n) {
      const got = await conn.read(buf.subarray(off));
      if (got === null) return null;
      off += got;
    }
  } catch {
    return null;
  }
  return decoder.decode(buf);
}

/** A client through the balancer: which server greeted it, and a working echo. */
async function dialThrough(b: EtcdBalancer): Promise<{ conn: Deno.TcpConn; server: string }> {
  const conn = await Deno.connect({ hostname: LOOPBACK, port: Number(new URL(b.url).port) });
  const server = await readN(conn, 1);
  if (server === null) {
    closeQuietly(conn);
    throw new Error("the balancer closed the connection");
  }
  await echoes(conn);
  return { conn, server };
}

/** Proves the relay carries data both ways. */
async function echoes(conn: Deno.Conn): Promise<void> {
  await writeAll(conn, encoder.encode("ping"));
  assert.equal(await readN(conn, 4), "ping");
}

/** True once the other side closed the connection; false if it is still open after `ms`. */
async function closedByPeer(conn: Deno.Conn, ms = 5000): Promise<boolean> {
  const buf = new Uint8Array(16);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const read = conn.read(buf).then((n) => n === null, () => true);
  try {
    return await Promise.race([read, open]);
  } finally {
    clearTimeout(timer);
  }
}

/** A balancer, started, plus a log and a clock the test moves. */
async function balancer(o: EtcdBalancerOptions) {
  const lines: string[] = [];
  const clock = { t: 1_000_000 };
  const b = new EtcdBalancer({
    log: createLogger("etcd.balancer", { level: "debug", sink: (l) => lines.push(l) }),
    now: () => clock.t,
    ...o,
  });
  await b.start();
  return { b, lines, clock };
}

/** Counts dials per port; dials to the ports in `silent` never answer until aborted. */
function countingConnect(silent: Set<number> = new Set()) {
  const dials = new Map<number, number>();
  const connect: TcpConnect = (hostname, port, signal) => {
    dials.set(port, (dials.get(port) ?? 0) + 1);
    if (!silent.has(port)) return Deno.connect({ hostname, port, signal });
    return new Promise((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  };
  return { connect, dials };
}

/** `p`, or an error once `ms` have passed: a stop() that hangs fails the test instead. */
async function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const grep = (lines: string[], re: RegExp) => lines.filter((l) => re.test(l));

Deno.test("endpoint URLs are checked, and a bad one says what a good one looks like", () => {
  assert.deepEqual(parseEndpoint("https://10.0.0.2:2379"), {
    url: "https://10.0.0.2:2379",
    hostname: "10.0.0.2",
    port: 2379,
  });
  assert.equal(parseEndpoint("https://[fd00::2]:2379/").hostname, "fd00::2");
  for (const bad of ["10.0.0.2:2379", "https://10.0.0.2", "unix:///x", "https://h:1/path"]) {
    assert.throws(() => parseEndpoint(bad), /give a client URL like https:\/\/10\.0\.0\.2:2379/);
  }
  assert.throws(() => new EtcdBalancer({ endpoints: ["nonsense"] }), /"nonsense" is not a URL/);
  const b = new EtcdBalancer({ endpoints: ["https://10.0.0.2:2379"] });
  assert.throws(() => b.url, /call start\(\)/);
  assert.throws(() => b.setEndpoints(["http://10.0.0.3:2379"]), /does not use https/);
  assert.deepEqual(b.endpoints(), ["https://10.0.0.2:2379"], "a refused list changes nothing");
});

Deno.test("dial order: preferred first, then from the last that worked, passed-over ones last resort", () => {
  const e = ["a", "b", "c", "d"].map((url) => ({ url }));
  const urls = (l: { url: string }[]) => l.map((x) => x.url).join("");
  const none = () => false;
  assert.equal(urls(dialOrder(e, undefined, undefined, none)), "abcd");
  assert.equal(urls(dialOrder(e, "c", undefined, none)), "cabd");
  assert.equal(urls(dialOrder(e, "c", "b", none)), "cbda");
  assert.equal(urls(dialOrder(e, "x", "d", none)), "dabc", "an unlisted preferred is ignored");
  assert.equal(urls(dialOrder(e, "c", "b", (x) => x.url !== "a")), "a");
  assert.equal(urls(dialOrder(e, "c", "b", () => true)), "cbda", "all out: all tried");
  assert.deepEqual(dialOrder([], "a", "b", none), []);
});

Deno.test("connections go to the preferred endpoint and carry data both ways", async () => {
  const a = new NamedEcho("A");
  const b = new NamedEcho("B");
  const { b: lb } = await balancer({ endpoints: [a.url, b.url], preferred: b.url });
  const conns: Deno.Conn[] = [];
  try {
    assert.match(lb.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 3; i++) {
      const c = await dialThrough(lb);
      conns.push(c.conn);
      assert.equal(c.server, "B");
    }
    assert.deepEqual(lb.relays(), [b.url, b.url, b.url]);
    // A megabyte each way at once: neither direction may stall the other.
    const big = new Uint8Array(1 << 20).map((_, i) => i % 251);
    const [, back] = await Promise.all([
      writeAll(conns[0], big),
      (async () => {
        const got = new Uint8Array(big.length);
        for (let off = 0; off < got.length;) {
          const n = await conns[0].read(got.subarray(off));
          assert.notEqual(n, null);
          off += n!;
        }
        return got;
      })(),
    ]);
    assert.deepEqual(back, big);
  } finally {
    for (const c of conns) closeQuietly(c);
    await lb.stop();
    await a.close();
    await b.close();
  }
});

Deno.test("a half-close is passed on: the reply to what was sent before it still arrives", async () => {
  // Reads to end-of-stream, then answers with the byte count and closes.
  const server = Deno.listen({ hostname: LOOPBACK, port: 0 });
  const served = (async () => {
    const conn = await server.accept();
    let total = 0;
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      total += n;
    }
    await writeAll(conn, encoder.encode(String(total)));
    conn.close();
  })();
  const port = (server.addr as Deno.NetAddr).port;
  const { b: lb } = await balancer({ endpoints: [`https://${LOOPBACK}:${port}`] });
  const conn = await Deno.connect({ hostname: LOOPBACK, port: Number(new URL(lb.url).port) });
  try {
    await writeAll(conn, new Uint8Array(100_000));
    await conn.closeWrite();
    assert.equal(await readN(conn, 6), "100000");
    assert.equal(await closedByPeer(conn), true);
    await served;
    await waitFor("the relay to end", () => lb.relays().length === 0, 5000, 10);
  } finally {
    closeQuietly(conn);
    await lb.stop();
    closeQuietly(server);
  }
});

Deno.test("a refusing preferred endpoint is passed over for outMs, warned once per failure streak, and existing connections stay put when it is back", async () => {
  const deadPort = freePort();
  const dead = `https://${LOOPBACK}:${deadPort}`;
  const b = new NamedEcho("B");
  const { connect, dials } = countingConnect();
  const { b: lb, lines, clock } = await balancer({
    endpoints: [dead, b.url],
    preferred: dead,
    outMs: 3000,
    connect,
  });
  const conns: Deno.Conn[] = [];
  let back: NamedEcho | undefined;
  try {
    for (let i = 0; i < 4; i++) {
      const c = await dialThrough(lb);
      conns.push(c.conn);
      assert.equal(c.server, "B");
    }
    assert.equal(dials.get(deadPort), 1, "passed over after it refused once");
    clock.t += 3001;
    conns.push((await dialThrough(lb)).conn);
    assert.equal(dials.get(deadPort), 2, "tried again once outMs passed");
    assert.equal(grep(lines, /WARN .*cannot reach etcd endpoint/).length, 1, lines.join("\n"));
    assert.match(grep(lines, /WARN/)[0], new RegExp(`endpoint=${dead}`));

    back = new NamedEcho("A", deadPort);
    clock.t += 3001;
    const c = await dialThrough(lb);
    conns.push(c.conn);
    assert.equal(c.server, "A", "the preferred endpoint is used again");
    assert.equal(grep(lines, /INFO .*etcd endpoint reachable again/).length, 1);
    for (const old of conns.slice(0, -1)) await echoes(old);
    assert.equal(lb.relays().filter((u) => u === b.url).length, 5, "no connection moved");

    // A new failure streak is warned about again.
    await back.close();
    clock.t += 1;
    conns.push((await dialThrough(lb)).conn);
    assert.equal(grep(lines, /WARN .*cannot reach etcd endpoint/).length, 2);
  } finally {
    for (const c of conns) closeQuietly(c);
    await lb.stop();
    await b.close();
    await back?.close();
  }
});

Deno.test("an endpoint that never answers costs dialTimeoutMs once, not on every new connection", async () => {
  const silentPort = freePort();
  const b = new NamedEcho("B");
  const { connect, dials } = countingConnect(new Set([silentPort]));
  const { b: lb } = await balancer({
    endpoints: [`https://${LOOPBACK}:${silentPort}`, b.url],
    preferred: `https://${LOOPBACK}:${silentPort}`,
    dialTimeoutMs: 400,
    connect,
  });
  const conns: Deno.Conn[] = [];
  try {
    let t0 = Date.now();
    conns.push((await dialThrough(lb)).conn);
    assert.ok(Date.now() - t0 >= 400, "the first connection waited for the timeout");
    for (let i = 0; i < 5; i++) {
      t0 = Date.now();
      const c = await dialThrough(lb);
      conns.push(c.conn);
      assert.equal(c.server, "B");
      assert.ok(Date.now() - t0 < 400, `connection ${i + 2} took ${Date.now() - t0} ms`);
    }
    assert.equal(dials.get(silentPort), 1);
  } finally {
    for (const c of conns) closeQuietly(c);
    await lb.stop();
    await b.close();
  }
});

Deno.test("with every endpoint down the client connection is closed; once one is back the next connection gets through at once", async () => {
  const p1 = freePort();
  const p2 = freePort();
  const urls = [p1, p2].map((p) => `https://${LOOPBACK}:${p}`);
  const { b: lb, lines } = await balancer({ endpoints: urls });
  let back: NamedEcho | undefined;
  const conn = await Deno.connect({ hostname: LOOPBACK, port: Number(new URL(lb.url).port) });
  try {
    assert.equal(await closedByPeer(conn), true);
    assert.equal(grep(lines, /WARN .*cannot reach etcd endpoint/).length, 2);
    back = new NamedEcho("B", p2);
    // Both are still passed over (the clock did not move): with none left, all are tried.
    const c = await dialThrough(lb);
    closeQuietly(c.conn);
    assert.equal(c.server, "B");
  } finally {
    closeQuietly(conn);
    await lb.stop();
    await back?.close();
  }
});

Deno.test("dropping an endpoint closes the connections relayed to it and only those", async () => {
  const a = new NamedEcho("A");
  const b = new NamedEcho("B");
  const { b: lb, lines } = await balancer({ endpoints: [a.url, b.url], preferred: a.url });
  const conns: Deno.Conn[] = [];
  try {
    const onA = await dialThrough(lb);
    conns.push(onA.conn);
    assert.equal(onA.server, "A");
    lb.setEndpoints([a.url, b.url], b.url);
    const onB = await dialThrough(lb);
    conns.push(onB.conn);
    assert.equal(onB.server, "B");
    await echoes(onA.conn); // a new preference does not move a connection

    lb.setEndpoints([b.url]);
    assert.equal(await closedByPeer(onA.conn), true);
    await echoes(onB.conn);
    await waitFor("A's relay to go", () => lb.relays().join() === b.url, 5000, 10);
    await waitFor("A's server side to close", () => a.conns.size === 0, 5000, 10);
    assert.deepEqual(lb.endpoints(), [b.url]);
    assert.equal(lb.preferred(), b.url, "omitting preferred keeps it");
    const changed = grep(lines, /INFO .*etcd endpoints changed/);
    assert.equal(changed.length, 2);
    assert.match(changed[1], /closed=1/);

    lb.setEndpoints([]);
    assert.equal(await closedByPeer(onB.conn), true);
    const none = await Deno.connect({ hostname: LOOPBACK, port: Number(new URL(lb.url).port) });
    conns.push(none);
    assert.equal(await closedByPeer(none), true, "no endpoint: closed");
  } finally {
    for (const c of conns) closeQuietly(c);
    await lb.stop();
    await a.close();
    await b.close();
  }
});

Deno.test("stop() closes the listener, relayed connections and pending dials", async () => {
  const a = new NamedEcho("A");
  const silentPort = freePort();
  const { connect, dials } = countingConnect(new Set([silentPort]));
  const { b: lb } = await balancer({ endpoints: [a.url], connect, dialTimeoutMs: 60_000 });
  const port = Number(new URL(lb.url).port);
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 3; i++) conns.push((await dialThrough(lb)).conn);
    const silent = `https://${LOOPBACK}:${silentPort}`;
    lb.setEndpoints([a.url, silent], silent); // keeps the three, hangs the next
    const pending = await Deno.connect({ hostname: LOOPBACK, port });
    conns.push(pending);
    await waitFor("the dial to hang", () => dials.get(silentPort) === 1, 5000, 10);
    await within(lb.stop(), "stop()");
    for (const c of conns) assert.equal(await closedByPeer(c), true);
    await waitFor("A's connections to close", () => a.conns.size === 0, 5000, 10);
    // Refused, or (the suite runs files in parallel) taken since by another test's listener:
    // either way no balancer relays it to A any more.
    const after = await Deno.connect({ hostname: LOOPBACK, port }).catch(() => undefined);
    if (after) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const first = await Promise.race([
        readN(after, 1),
        new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 1000)),
      ]);
      clearTimeout(timer);
      closeQuietly(after);
      assert.notEqual(first, "A");
    }
    await lb.stop(); // twice is harmless
  } finally {
    for (const c of conns) closeQuietly(c);
    await lb.stop();
    await a.close();
  }
});
