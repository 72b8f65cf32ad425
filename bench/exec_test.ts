import assert from "node:assert/strict";
import { resetChildren, run, stopChildren } from "./exec.ts";

Deno.test("stopping the children ends a running command at once, and later ones too", async () => {
  try {
    const started = Date.now();
    const running = run("sleep", ["30"], 60_000).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    stopChildren();
    const r = await running;
    assert.ok(Date.now() - started < 5_000, "sleep was not stopped");
    assert.ok(r instanceof Error || r.code !== 0);
    const later = await run("true", []).catch((e: Error) => e);
    assert.ok(later instanceof Error || later.code !== 0, "a command after the stop must not run");
  } finally {
    resetChildren();
  }
  assert.equal((await run("true", [])).code, 0);
});
