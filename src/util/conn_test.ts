import assert from "node:assert/strict";
import { closeQuietly, writeAll } from "./conn.ts";

Deno.test("writeAll keeps writing until a writer that takes little has it all", async () => {
  const got: number[] = [];
  const slow = {
    write(data: Uint8Array): Promise<number> {
      const n = Math.min(2, data.length);
      got.push(...data.subarray(0, n));
      return Promise.resolve(n);
    },
  };
  await writeAll(slow, new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
});

Deno.test("closeQuietly closes once and ignores a second close", () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  closeQuietly(listener);
  assert.throws(() => listener.close());
  closeQuietly(listener);
});
