import assert from "node:assert/strict";
import { closeQuietly, splice, writeAll } from "./conn.ts";

Deno.test("writeAll keeps writing until a writer that takes little has it all", async () => {
  const got: number[] = [];
  const slow = {
    write(data: Uint8Array): Promise<number> {
      const n = Math.min(2, data.length);
      got.push(...data.subarray(0, n));
      return Promise.resolve(n);
    },
  };
  await writeAll(slow, new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
});

Deno.test("closeQuietly closes once and ignores a second close", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  closeQuietly(listener);
  assert.throws(() => listener.close());
  closeQuietly(listener);
});

Deno.test("a splice whose buffers grow relays a bulk transfer intact, both ways", async () => {
  const data = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251);
  const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l: Deno.Listener) => (l.addr as Deno.NetAddr).port;
  // The sink echoes what it gets, then ends its side.
  const echoed = (async () => {
    const c = await sink.accept();
    const buf = new Uint8Array(100_000);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      await writeAll(c, buf.subarray(0, n));
    }
    await c.closeWrite();
  })();
  const relayed = (async () => {
    const a = await relay.accept();
    const b = await Deno.connect({ hostname: "127.0.0.1", port: port(sink) });
    await splice(a, b, { size: 512, max: 256 * 1024 });
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: port(relay) });
  const sent = (async () => {
    await writeAll(client, data);
    await client.closeWrite();
  })();
  const got: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await client.read(buf);
    if (n === null) break;
    got.push(buf.slice(0, n));
  }
  await Promise.all([sent, echoed, relayed]);
  client.close();
  sink.close();
  relay.close();
  const joined = new Uint8Array(got.reduce((s, g) => s + g.length, 0));
  got.reduce((at, g) => (joined.set(g, at), at + g.length), 0);
  assert.equal(joined.length, data.length);
  assert.deepEqual(joined, data);
});

Deno.test("a splice whose destination fails a write ends at once, not at the source's next bytes", async () => {
  // A source that sends one chunk, then stays quiet until it is closed; a destination whose
  // writes fail. The failure must not wait for bytes that never come.
  let quiet: (err: Error) => void = () => {};
  let reads = 0;
  const source = {
    read(buf: Uint8Array): Promise<number | null> {
      if (reads++ === 0) return Promise.resolve(buf.length > 10 ? 10 : buf.length);
      return new Promise((_, reject) => quiet = reject);
    },
    write: () => new Promise<number>(() => {}),
    close: () => quiet(new Error("closed")),
    closeWrite: () => Promise.resolve(),
  };
  // As a socket does, a read under way fails when the destination is closed.
  let gone: (err: Error) => void = () => {};
  const destination = {
    read: () => new Promise<number | null>((_, reject) => gone = reject),
    write: () => Promise.reject(new Error("connection reset")),
    close: () => gone(new Error("closed")),
    closeWrite: () => Promise.resolve(),
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    splice(source as unknown as Deno.Conn, destination as unknown as Deno.Conn).then(
      () => "ended",
      (err) => `failed: ${err.message}`,
    ),
    new Promise((resolve) => timer = setTimeout(() => resolve("still waiting"), 2000)),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "failed: connection reset");
});
