import assert from "node:assert/strict";
import { DatagramMesh, localChannel, readFrames, relayFrames, writeFrame } from "./datagrams.ts";

const text = (d: Uint8Array) => new TextDecoder().decode(d);
const bytes = (s: string) => new TextEncoder().encode(s);

/** A UDP echo on 127.0.0.1 that prefixes what it sends back with `tag`. */
function echo(tag: string): { port: number; close: () => void } {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  void (async () => {
    for (;;) {
      const [d, from] = await sock.receive().catch(() => [undefined, undefined]);
      if (!d) return;
      await sock.send(bytes(`${tag} ${text(d)}`), from!).catch(() => {});
    }
  })();
  return { port: (sock.addr as Deno.NetAddr).port, close: () => sock.close() };
}

/** Sends `what` from a socket on `hostname`; the answer and its source, or undefined. */
async function ask(hostname: string, to: number, what: string, ms = 1000) {
  const sock = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await sock.send(bytes(what), { transport: "udp", hostname: "127.0.0.1", port: to });
    const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
    const got = await Promise.race([sock.receive(), late]);
    return got && { answer: text(got[0]), from: (got[1] as Deno.NetAddr).port };
  } finally {
    clearTimeout(timer);
    sock.close();
  }
}

/** One client socket of the stack, asking the mesh's port again and again. */
class Client {
  readonly sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  port = 0;
  async ask(what: string) {
    await this.sock.send(bytes(what), { transport: "udp", hostname: "127.0.0.1", port: this.port });
    const [d, from] = await this.sock.receive();
    return { answer: text(d), from: (from as Deno.NetAddr).port };
  }
  close() {
    this.sock.close();
  }
}

/** A free UDP port on 127.0.0.1. */
function freePort(): number {
  const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

Deno.test("datagrams cross a stream as frames, however the stream cuts them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    const big = new Uint8Array(60_000).fill(7);
    // One frame already read past a first line, the rest written a byte at a time and whole.
    const first = new Uint8Array([0, 2, 104, 105, 0]);
    const rest = new Uint8Array([3, 97, 98, 99]);
    const writing = (async () => {
      for (const b of rest) await client.write(new Uint8Array([b]));
      await writeFrame(client, new Uint8Array());
      await writeFrame(client, big);
      client.closeWrite();
    })();
    const got: Uint8Array[] = [];
    for await (const d of readFrames(server, first)) got.push(d);
    await writing;
    assert.deepEqual(got.map((d) => d.length), [2, 3, 0, 60_000]);
    assert.equal(text(got[0]) + text(got[1]), "hiabc");
    assert.deepEqual(got[3], big);
    await assert.rejects(writeFrame(client, new Uint8Array(70_000)), RangeError);
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("a tunnel's UDP relay passes frames to the container's port and its answers back", async () => {
  const e = echo("echo");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    const relay = relayFrames(server, new Uint8Array(), "127.0.0.1", e.port);
    await writeFrame(client, bytes("one"));
    await writeFrame(client, bytes("two"));
    const answers: string[] = [];
    for await (const d of readFrames(client)) {
      answers.push(text(d));
      if (answers.length === 2) break;
    }
    assert.deepEqual(answers, ["echo one", "echo two"]);
    client.closeWrite();
    await relay;
  } finally {
    client.close();
    e.close();
    listener.close();
  }
});

Deno.test("the UDP mesh answers a stack's client from the address asked, keeps its replica while ready, and no one else", async () => {
  const a = echo("a");
  const b = echo("b");
  const port = freePort();
  let now = 0;
  let readyKey = "a";
  const opened: string[] = [];
  const mesh = new DatagramMesh({
    // 127.0.0.1 is the stack's network here; 127.0.0.2 another stack's.
    stackOf: (source) => source === "127.0.0.1" ? "shop" : undefined,
    open: (_service, p) => {
      assert.equal(p, port);
      const key = readyKey;
      opened.push(key);
      return Promise.resolve({
        channel: localChannel("127.0.0.1", (key === "a" ? a : b).port),
        key,
      });
    },
    ready: (_service, _port, key) => key === readyKey,
    now: () => now,
    idleMs: 60_000,
  });
  const client = new Client();
  client.port = port;
  try {
    mesh.sync(new Map([[`127.0.0.1:${port}`, new Map([["shop", "syslog.shop"]])]]));
    assert.deepEqual(mesh.listening(), [`127.0.0.1:${port}/udp`]);
    assert.deepEqual(await client.ask("hi"), { answer: "a hi", from: port });
    assert.deepEqual(await client.ask("hi again"), { answer: "a hi again", from: port });
    assert.deepEqual(opened, ["a"], "one session for the client");
    assert.equal(await ask("127.0.0.2", port, "let me in", 300), undefined);
    assert.deepEqual(opened, ["a"], "the other stack's client opened nothing");
    // The replica stops being ready: the client's next datagram goes to one that is.
    readyKey = "b";
    now += 1_000;
    assert.deepEqual(await client.ask("and now"), { answer: "b and now", from: port });
    assert.deepEqual(opened, ["a", "b"]);
    // Another client of the stack has a session of its own.
    assert.deepEqual(await ask("127.0.0.1", port, "me too"), { answer: "b me too", from: port });
    assert.deepEqual(opened, ["a", "b", "b"]);
    mesh.sync(new Map());
    assert.deepEqual(mesh.listening(), []);
    assert.equal(await ask("127.0.0.1", port, "gone", 300), undefined);
  } finally {
    client.close();
    await mesh.stop();
    a.close();
    b.close();
  }
});
