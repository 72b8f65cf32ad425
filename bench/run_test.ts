import assert from "node:assert/strict";
import { parseArgs } from "./run.ts";

Deno.test("bench flags: defaults, --json, --duration, and clear errors", () => {
  assert.deepEqual(parseArgs([]), { json: false, durationS: 10 });
  assert.deepEqual(parseArgs(["--json", "--duration=3"]), { json: true, durationS: 3 });
  assert.throws(() => parseArgs(["--duration=0"]), /1\.\.30/);
  assert.throws(() => parseArgs(["--duration=abc"]), /whole number/);
  assert.throws(() => parseArgs(["--fast"]), /unknown argument "--fast"/);
});
