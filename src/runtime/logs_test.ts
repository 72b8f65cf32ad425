import assert from "node:assert/strict";
import { demuxLogs, LogDemuxer } from "./logs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function frame(stream: number, text: string): Uint8Array {
  const payload = enc.encode(text);
  const out = new Uint8Array(8 + payload.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, payload.length);
  out.set(payload, 8);
  return out;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function readAll(chunks: Uint8Array[]): Promise<string> {
  const raw = new ReadableStream<Uint8Array>({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(c);
      ctl.close();
    },
  });
  let out = "";
  for await (const line of demuxLogs(raw)) out += dec.decode(line);
  return out;
}

Deno.test("frames of stdout and stderr become plain lines", async () => {
  const text = await readAll([join(frame(1, "hello\n"), frame(2, "oops\n"), frame(1, "bye\n"))]);
  assert.equal(text, "hello\noops\nbye\n");
});

Deno.test("a frame split across chunks at any byte is reassembled", async () => {
  const all = join(frame(1, "first line\n"), frame(2, "second\n"));
  for (let cut = 1; cut < all.length; cut++) {
    const text = await readAll([all.slice(0, cut), all.slice(cut)]);
    assert.equal(text, "first line\nsecond\n", `cut at ${cut}`);
  }
});

Deno.test("a line written in pieces is not cut by the other stream", () => {
  const d = new LogDemuxer();
  const lines = [
    ...d.push(frame(1, "hel")),
    ...d.push(frame(2, "err\n")),
    ...d.push(frame(1, "lo\n")),
  ].map((l) => dec.decode(l));
  assert.deepEqual(lines, ["err\n", "hello\n"]);
});

Deno.test("an unfinished last line is closed at the end", async () => {
  assert.equal(await readAll([frame(1, "no newline")]), "no newline\n");
});

Deno.test("a stream without frame headers (TTY) passes through as lines", async () => {
  assert.equal(
    await readAll([enc.encode("plain te"), enc.encode("xt\nmore")]),
    "plain text\nmore\n",
  );
});

Deno.test("an empty log gives an empty stream", async () => {
  assert.equal(await readAll([]), "");
});
