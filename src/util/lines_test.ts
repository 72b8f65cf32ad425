import assert from "node:assert/strict";
import { LineSplitter, splitLines } from "./lines.ts";

Deno.test("LineSplitter gives each line once, whole, when pieces cut it", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push("a\nb"), ["a"]);
  assert.deepEqual(s.push("c"), []);
  assert.deepEqual(s.push("\n\nd\n"), ["bc", "", "d"]);
  assert.equal(s.end(), undefined);
  assert.deepEqual(s.push("tail"), []);
  assert.equal(s.end(), "tail");
  assert.equal(s.end(), undefined);
});

Deno.test("splitLines streams whole lines and the unfinished last one", async () => {
  const lines = await Array.fromAsync(
    ReadableStream.from(["one\ntw", "o\n", "three"]).pipeThrough(splitLines()),
  );
  assert.deepEqual(lines, ["one", "two", "three"]);
});
