import assert from "node:assert/strict";
import { mergeLogs, prefixLines } from "./logs.ts";

const enc = new TextEncoder();

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((c) => enc.encode(c)));
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("prefixLines prefixes whole lines even when chunks cut them", async () => {
  const out = await text(streamOf("hel", "lo\nwor", "ld\n", "last").pipeThrough(prefixLines("> ")));
  assert.equal(out, "> hello\n> world\n> last\n");
});

Deno.test("prefixLines keeps multi-byte characters cut between chunks", async () => {
  const bytes = enc.encode("é\n");
  const stream = ReadableStream.from([bytes.slice(0, 1), bytes.slice(1)]);
  assert.equal(await text(stream.pipeThrough(prefixLines("p "))), "p é\n");
});

Deno.test("mergeLogs joins every source's lines and ends when all have ended", async () => {
  const out = await text(mergeLogs([
    { prefix: "[replica 0] ", stream: streamOf("a1\na", "2\n") },
    { prefix: "[replica 1] ", stream: streamOf("b1\n") },
  ], ["(notice)"]));
  const lines = out.trimEnd().split("\n");
  assert.equal(lines[0], "(notice)");
  assert.deepEqual(lines.slice(1).sort(), ["[replica 0] a1", "[replica 0] a2", "[replica 1] b1"]);
});

Deno.test("mergeLogs passes a single unprefixed source through unchanged", async () => {
  assert.equal(await text(mergeLogs([{ prefix: "", stream: streamOf("x", "y\nz") }])), "xy\nz");
});

Deno.test("mergeLogs reports a source that fails and keeps the others", async () => {
  const failing = new ReadableStream<Uint8Array>({
    pull(c) {
      c.error(new Error("node unreachable"));
    },
  });
  const out = await text(mergeLogs([
    { prefix: "[replica 0] ", stream: failing },
    { prefix: "[replica 1] ", stream: streamOf("ok\n") },
  ]));
  assert.match(out, /\[replica 0\] \(log stream ended: node unreachable\)\n/);
  assert.match(out, /\[replica 1\] ok\n/);
});

Deno.test("cancelling mergeLogs cancels every source and calls onCancel", async () => {
  const cancelled: string[] = [];
  const endless = (name: string) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode(`${name} first\n`));
      },
      cancel() {
        cancelled.push(name);
      },
    });
  let onCancel = 0;
  const merged = mergeLogs(
    [{ prefix: "", stream: endless("a") }, { prefix: "", stream: endless("b") }],
    [],
    () => onCancel++,
  );
  const reader = merged.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /first/);
  await reader.cancel();
  assert.deepEqual(cancelled.sort(), ["a", "b"]);
  assert.equal(onCancel, 1);
});
