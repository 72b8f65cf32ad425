import assert from "node:assert/strict";
import { liveRegion, sseEvent } from "./live.ts";

Deno.test("an event has one data line per line of its text", () => {
  assert.equal(sseEvent("update", "a\nb\r\nc"), "event: update\ndata: a\ndata: b\ndata: c\n\n");
});

Deno.test("a live region sends its HTML when it changes, says once when it could not, and ends on abort", async () => {
  const stop = new AbortController();
  const states = ["one", "one", "one", "two"];
  let i = 0;
  const stream = liveRegion(
    () => {
      const html = states[Math.min(i++, states.length - 1)];
      if (i === 2 || i === 3) return Promise.reject(new Error("etcd is away"));
      return Promise.resolve(html);
    },
    stop.signal,
    { pollMs: 1 },
  );
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("data: two")) text += (await reader.read()).value ?? "";
  // One notice for two failures; then the HTML again, as the page may have marked it stale.
  assert.equal(
    text,
    "event: update\ndata: one\n\nevent: stale\ndata: etcd is away\n\n" +
      "event: update\ndata: two\n\n",
  );
  stop.abort();
  while (!(await reader.read()).done) { /* drain until closed */ }
});

Deno.test("a stream the browser left renders no more, and leaves nothing on the server's signal", async () => {
  const server = new AbortController();
  let renders = 0;
  let release = () => {};
  const slow = new Promise<void>((r) => release = r);
  const stream = liveRegion(
    async () => {
      renders++;
      if (renders === 2) await slow; // cancelled while this render runs
      return `n${renders}`;
    },
    server.signal,
    { pollMs: 1 },
  );
  const reader = stream.getReader();
  await reader.read();
  while (renders < 2) await new Promise((r) => setTimeout(r, 1));
  await reader.cancel();
  release();
  const after = renders;
  // Had the stream gone on, 1 ms ticks would have rendered again within these 20 ms.
  const until = Date.now() + 20;
  while (Date.now() < until) await new Promise((r) => setTimeout(r, 1));
  assert.equal(renders, after, "no render after the cancel");
  server.abort();
});

Deno.test("a stream ends when its session no longer holds", async () => {
  let allowed = true;
  const stream = liveRegion(
    () => Promise.resolve(String(Date.now())),
    new AbortController().signal,
    { pollMs: 1, checkMs: 5, stillAllowed: () => Promise.resolve(allowed) },
  );
  const reader = stream.getReader();
  await reader.read();
  allowed = false;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
    assert.ok(Date.now() < deadline, "still open");
  }
});
