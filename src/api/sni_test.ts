import assert from "node:assert/strict";
import { helloIn, MAX_HELLO_BYTES, serverNameOf } from "./sni.ts";

/** What `openssl s_client -servername NAME` sends first, captured on a plain TCP listener. */
async function capturedHello(name?: string): Promise<Uint8Array> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const client = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      ...(name ? ["-servername", name] : ["-noservername"]),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const conn = await listener.accept();
  let raw = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  while (helloIn(raw).state === "more") {
    const n = await conn.read(buf);
    if (n === null) break;
    raw = new Uint8Array([...raw, ...buf.subarray(0, n)]);
  }
  conn.close();
  client.kill();
  await client.status;
  return raw;
}

Deno.test("the name of a real ClientHello is found, and none when the client sends none", async () => {
  const raw = await capturedHello("Nas.Tail4f2a1c.ts.net");
  const found = helloIn(raw);
  assert.equal(found.state, "hello");
  assert.equal(found.state === "hello" && serverNameOf(found.hello), "nas.tail4f2a1c.ts.net");
  const bare = helloIn(await capturedHello());
  assert.equal(bare.state === "hello" && serverNameOf(bare.hello), undefined);
});

Deno.test("a ClientHello split across records and reads is waited for, then read whole", async () => {
  const raw = await capturedHello("a.example");
  const hello = (helloIn(raw) as { hello: Uint8Array }).hello;
  // The same message as two records of a few bytes and the rest.
  const record = (part: Uint8Array) => [22, 3, 1, part.length >> 8, part.length & 255, ...part];
  const split = new Uint8Array([...record(hello.subarray(0, 3)), ...record(hello.subarray(3))]);
  for (let cut = 0; cut < split.length; cut++) {
    assert.equal(helloIn(split.subarray(0, cut)).state, "more", `cut at ${cut}`);
  }
  const whole = helloIn(split);
  assert.equal(whole.state === "hello" && serverNameOf(whole.hello), "a.example");
});

Deno.test("what is not a ClientHello gives no name and never throws", async () => {
  assert.equal(helloIn(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")).state, "none");
  assert.equal(
    helloIn(new Uint8Array([22, 3, 1, 0, 4, 2, 0, 0, 0])).state,
    "none",
    "a ServerHello",
  );
  // A declared length past the limit is not waited for.
  assert.equal(helloIn(new Uint8Array([22, 3, 1, 0x40, 0, 1, 0xff, 0xff, 0xff])).state, "none");
  assert.equal(helloIn(new Uint8Array(MAX_HELLO_BYTES).fill(22)).state, "none");
  const raw = await capturedHello("fuzz.example");
  const hello = (helloIn(raw) as { hello: Uint8Array }).hello;
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 5000; i++) {
    const m = hello.slice(0, Math.floor(rand() * hello.length) + 1);
    for (let k = 0; k < 4; k++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
    const name = serverNameOf(m);
    assert.ok(name === undefined || /^[a-z0-9.-]+$/.test(name), `odd name ${name}`);
    helloIn(new Uint8Array([22, 3, 1, m.length >> 8, m.length & 255, ...m]));
  }
});
