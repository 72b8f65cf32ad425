import assert from "node:assert/strict";
import { pause } from "./pause.ts";

Deno.test("a pause ends at its time, or at once when its signal aborts", async () => {
  const stop = new AbortController();
  const started = performance.now();
  const long = pause(60_000, stop.signal);
  stop.abort();
  await long;
  assert.ok(performance.now() - started < 1000);
  await pause(1, new AbortController().signal);
});
