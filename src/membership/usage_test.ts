import assert from "node:assert/strict";
import { measureUsage } from "./usage.ts";

Deno.test("this machine's usage is measured within its capacity", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const u = measureUsage(dir);
    assert.ok(u.load >= 0);
    assert.ok(u.memoryUsed > 0 && u.memoryUsed <= Deno.systemMemoryInfo().total);
    assert.ok(u.disk.total > 0 && u.disk.free >= 0 && u.disk.free <= u.disk.total);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
