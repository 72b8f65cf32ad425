import assert from "node:assert/strict";
import { liveRegion, sseEvent } from "./live.ts";

Deno.test("an event has one data line per line of its text", () => {
  assert.equal(sseEvent("update", "a\nb\r\nc"), "event: update\ndata: a\ndata: b\ndata: c\n\n");
});

Deno.test("a live region sends its HTML when it changes, not when it stays, and ends on abort", async () => {
  const stop = new AbortController();
  const states = ["one", "one", "one", "two"];
  let i = 0;
  const stream = liveRegion(
    () => {
      const html = states[Math.min(i++, states.length - 1)];
      if (i === 2) return Promise.reject(new Error("etcd is away")); // kept silent
      return Promise.resolve(html);
    },
    stop.signal,
    1,
  );
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("data: two")) text += (await reader.read()).value ?? "";
  assert.equal(text, "event: update\ndata: one\n\nevent: update\ndata: two\n\n");
  stop.abort();
  while (!(await reader.read()).done) { /* drain until closed */ }
});
