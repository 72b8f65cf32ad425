import assert from "node:assert/strict";
import { createLogger, formatLine } from "./log.ts";

Deno.test("a log line has the level, component, message and quoted fields on one line", () => {
  const line = formatLine(
    "warn",
    "runtime",
    "pull failed",
    { image: "a b", code: 1 },
    false,
    new Date(0),
  );
  assert.equal(line, '1970-01-01T00:00:00.000Z WARN runtime: pull failed image="a b" code=1');
  assert.equal(formatLine("error", "x", "two\nlines", {}, true), "<3>ERROR x: two\\nlines");
});

Deno.test("an unknown FOSSORA_LOG_LEVEL logs at info instead of going silent", () => {
  const lines: string[] = [];
  Deno.env.set("FOSSORA_LOG_LEVEL", "verbose");
  try {
    const log = createLogger("t", { sink: (l) => lines.push(l) });
    log.debug("hidden");
    log.info("shown");
  } finally {
    Deno.env.delete("FOSSORA_LOG_LEVEL");
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0], /INFO t: shown/);
});
