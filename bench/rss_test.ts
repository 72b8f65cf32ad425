import assert from "node:assert/strict";
import { isSettled, PeakSampler, readRss, readRssAnon, settledRss } from "./rss.ts";

Deno.test("a resident set is settled only when the window's spread is within tolerance", () => {
  assert.equal(isSettled([100, 101, 100.5], 1), true);
  assert.equal(isSettled([100, 103, 101], 1), false);
  assert.equal(isSettled([100], 1), false, "one sample says nothing about movement");
});

Deno.test("this process's own VmRSS reads as a plausible byte count", async () => {
  const rss = await readRss(Deno.pid);
  assert.ok(rss !== undefined && rss > 1024 * 1024 && rss < 64 * 1024 * 1024 * 1024);
});

Deno.test("the peak sampler keeps a peak per live process and skips unreadable ones", () => {
  const sampler = new PeakSampler({ self: Deno.pid, gone: 0x7ffffffe }, 1000);
  const { peaks, samples } = sampler.stop();
  assert.ok(peaks.self > 1024 * 1024);
  assert.equal("gone" in peaks, false);
  assert.equal(samples, 2);
});

Deno.test("the peak sampler keeps the private (RssAnon) peak too, below VmRSS", () => {
  const sampler = new PeakSampler({ self: Deno.pid }, 1000);
  const { peaks, privatePeaks } = sampler.stop();
  assert.ok(privatePeaks.self > 0 && privatePeaks.self <= peaks.self);
  assert.deepEqual(sampler.stop().privatePeaks, privatePeaks, "stopping twice is harmless");
});

Deno.test("settling can wait on RssAnon", async () => {
  const anon = await settledRss(Deno.pid, {
    read: readRssAnon,
    windowMs: 100,
    intervalMs: 20,
    timeoutMs: 1000,
  });
  assert.ok(anon > 0);
});
