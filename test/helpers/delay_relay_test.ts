import assert from "node:assert/strict";
import { closeQuietly, writeAll } from "../../src/util/conn.ts";
import { DelayRelay, parseMap, UdpDelayRelay } from "./delay_relay.ts";
import { freePort } from "./ports.ts";

/** A TCP echo server on loopback; `using` closes it and every connection it took. */
function echoServer(): Deno.TcpListener & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    const echoes: Promise<void>[] = [];
    try {
      for await (const conn of listener) {
        conns.add(conn);
        echoes.push((async () => {
          const buf = new Uint8Array(64 * 1024);
          try {
            for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
              await writeAll(conn, buf.subarray(0, n));
            }
            await conn.closeWrite();
          } catch { /* closed */ }
        })());
      }
    } catch { /* closed */ }
    for (const c of conns) closeQuietly(c);
    await Promise.all(echoes);
  })();
  return Object.assign(listener, {
    async [Symbol.asyncDispose]() {
      closeQuietly(listener);
      await serving;
    },
  });
}

/** The shortest of `n` one-byte round trips on `conn`: a busy machine only ever adds time. */
async function pingMs(conn: Deno.Conn, n = 5): Promise<number> {
  const times: number[] = [];
  const buf = new Uint8Array(1);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await writeAll(conn, new Uint8Array([i]));
    assert.equal(await conn.read(buf), 1);
    times.push(performance.now() - start);
  }
  return Math.min(...times);
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("a round trip through the relay takes twice its delay more; the connect itself does not", async () => {
  await using echo = echoServer();
  const target = { hostname: "127.0.0.1", port: echo.addr.port };
  await using relay = DelayRelay.start({ port: 0, target, delayMs: 100 });
  const direct = await Deno.connect(target);
  const start = performance.now();
  const relayed = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
  const connectMs = performance.now() - start;
  try {
    const added = (await pingMs(relayed)) - (await pingMs(direct));
    // Twice the delay, one way each; not held once more on the way back (that would be 400).
    assert.ok(added >= 199 && added < 300, `added ${added.toFixed(1)} ms, wanted about 200`);
    assert.ok(connectMs < 100, `the relay accepts at once (${connectMs.toFixed(1)} ms)`);
  } finally {
    direct.close();
    relayed.close();
  }
});

Deno.test("8 MiB each way arrive whole and in order, with no more than the limit held", async () => {
  await using echo = echoServer();
  const target = { hostname: "127.0.0.1", port: echo.addr.port };
  const limit = 256 * 1024;
  await using relay = DelayRelay.start({ port: 0, target, delayMs: 5, maxQueuedBytes: limit });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
  try {
    const data = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    const [, back] = await Promise.all([
      writeAll(conn, data).then(() => conn.closeWrite()),
      readAll(conn),
    ]);
    assert.equal(back.length, data.length);
    const digest = async (b: Uint8Array<ArrayBuffer>) =>
      new Uint8Array(await crypto.subtle.digest("SHA-256", b)).join(",");
    assert.equal(await digest(back), await digest(data), "same bytes in the same order");
    assert.ok(relay.maxQueued > 0 && relay.maxQueued < limit + 64 * 1024, `${relay.maxQueued}`);
  } finally {
    conn.close();
  }
});

Deno.test("a half-close passes through, and close() ends the connections still open", async () => {
  await using echo = echoServer();
  const target = { hostname: "127.0.0.1", port: echo.addr.port };
  const relay = DelayRelay.start({ port: 0, target, delayMs: 10 });
  const a = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
  try {
    await writeAll(a, new TextEncoder().encode("hello"));
    await a.closeWrite();
    assert.equal(new TextDecoder().decode(await readAll(a)), "hello", "echoed, then the end");
    assert.equal(await pingMs(idle, 1) > 0, true);
    await relay.close();
    const ended = await idle.read(new Uint8Array(1)).catch(() => null);
    assert.equal(ended, null, "the idle connection was closed by the relay");
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: relay.port }));
  } finally {
    a.close();
    idle.close();
    await relay.close();
  }
});

Deno.test("as a program it relays each --map, says ready, and ends cleanly on SIGTERM", async () => {
  await using echo = echoServer();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./delay_relay.ts", import.meta.url).pathname,
      "--delay",
      "20",
      "--map",
      `${port}=127.0.0.1:${echo.addr.port}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const first = await reader.read();
    assert.equal(first.value?.trim(), "ready");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      assert.ok(await pingMs(conn, 3) >= 40);
    } finally {
      conn.close();
    }
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
  } finally {
    await reader.cancel();
    try {
      child.kill("SIGKILL");
    } catch { /* ended */ }
    await child.status;
  }
});

Deno.test("a --map that is not PORT=HOST:PORT says what to give", () => {
  assert.deepEqual(parseMap("42380=127.0.0.1:2380"), {
    port: 42380,
    target: { hostname: "127.0.0.1", port: 2380 },
  });
  assert.throws(() => parseMap("2380"), /give LISTEN_PORT=HOST:PORT/);
});

Deno.test("the UDP relay passes each datagram on after the delay, in order", async () => {
  const sink = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target = { hostname: "127.0.0.1", port: (sink.addr as Deno.NetAddr).port };
  await using relay = UdpDelayRelay.start({ port: 0, target, delayMs: 150 });
  const sender = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const sent = performance.now();
    for (const text of ["one", "two"]) {
      await sender.send(new TextEncoder().encode(text), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: relay.port,
      });
    }
    const got: string[] = [];
    for (let i = 0; i < 2; i++) got.push(new TextDecoder().decode((await sink.receive())[0]));
    const ms = performance.now() - sent;
    assert.deepEqual(got, ["one", "two"]);
    assert.ok(ms >= 150, `arrived after ${ms} ms`);
  } finally {
    sender.close();
    sink.close();
  }
});
