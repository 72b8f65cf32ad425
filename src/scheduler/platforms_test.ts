import assert from "node:assert/strict";
import { ImagePlatforms, linuxArches } from "./platforms.ts";

/**
 * A cache whose lookups the test answers, one call at a time, on a clock the test sets; it
 * counts what it learned.
 */
function setup() {
  const calls: { image: string; answer: (p: string[] | undefined | Error) => void }[] = [];
  const lookup = (image: string) =>
    new Promise<string[] | undefined>((resolve, reject) => {
      calls.push({ image, answer: (p) => p instanceof Error ? reject(p) : resolve(p) });
    });
  const t = { now: 0, learned: 0 };
  const cache = new ImagePlatforms({
    lookup,
    onLearned: () => t.learned++,
    keepMs: 1000,
    retryMs: 100,
    now: () => t.now,
  });
  return { calls, cache, t };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("platforms are looked up once in the background, kept, and looked up again when stale", async () => {
  const { calls, cache, t } = setup();
  assert.equal(cache.get("web:1"), undefined);
  assert.equal(cache.get("web:1"), undefined);
  assert.equal(calls.length, 1, "one lookup at a time per image");
  calls[0].answer(["linux/arm64"]);
  await settle();
  assert.equal(t.learned, 1);
  assert.deepEqual(cache.get("web:1"), ["linux/arm64"]);
  t.now = 999;
  cache.get("web:1");
  assert.equal(calls.length, 1, "kept while fresh");
  t.now = 1000;
  assert.deepEqual(cache.get("web:1"), ["linux/arm64"], "the stale answer serves meanwhile");
  assert.equal(calls.length, 2);
  calls[1].answer(["linux/arm64"]);
  await settle();
  assert.equal(t.learned, 1, "the same answer is not news");
  cache.close();
});

Deno.test("a failed lookup restricts nothing and is tried again after retryMs", async () => {
  const { calls, cache, t } = setup();
  cache.get("web:1");
  calls[0].answer(new Error("registry unreachable"));
  await settle();
  assert.equal(cache.get("web:1"), undefined);
  assert.equal(calls.length, 1);
  assert.equal(t.learned, 1, "a first answer, even unknown, lets placement go on");
  t.now = 100;
  cache.get("web:1");
  assert.equal(calls.length, 2);
  calls[1].answer(["linux/amd64"]);
  await settle();
  assert.equal(t.learned, 2);
  assert.deepEqual(cache.get("web:1"), ["linux/amd64"]);
  cache.close();
});

Deno.test("linuxArches keeps the Linux architectures, once each", () => {
  assert.deepEqual(
    linuxArches([
      "linux/amd64",
      "linux/arm/v7",
      "linux/arm/v6",
      "windows/amd64",
      "unknown/unknown",
    ]),
    ["amd64", "arm"],
  );
});

Deno.test("pending is true only during an image's first lookup, whose answer is news even when unknown", async () => {
  const { calls, cache, t } = setup();
  assert.equal(cache.pending("web:1"), true, "asking starts the lookup");
  assert.equal(calls.length, 1);
  calls[0].answer(undefined);
  await settle();
  assert.equal(t.learned, 1);
  assert.equal(cache.pending("web:1"), false);
  cache.close();
});
