import assert from "node:assert/strict";
import { readLimitedBody } from "./body.ts";
import { ApiError } from "./errors.ts";

/** A body of `chunks` chunks of `size` bytes that records how many chunks were pulled. */
function countingBody(chunks: number, size: number) {
  const state = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks) return controller.close();
      state.pulled++;
      controller.enqueue(new Uint8Array(size).fill(65));
    },
  });
  return { stream, state };
}

Deno.test("readLimitedBody returns the whole body when it fits", async () => {
  const req = new Request("http://x/", { method: "POST", body: "hello" });
  assert.deepEqual(new TextDecoder().decode(await readLimitedBody(req, 5)), "hello");
});

Deno.test("readLimitedBody returns an empty body for a request without one", async () => {
  assert.equal((await readLimitedBody(new Request("http://x/"), 5)).byteLength, 0);
});

Deno.test("readLimitedBody refuses a declared Content-Length over the limit without reading", async () => {
  const { stream, state } = countingBody(10, 100);
  const req = new Request("http://x/", {
    method: "POST",
    body: stream,
    headers: { "content-length": "1000" },
  });
  await assert.rejects(readLimitedBody(req, 500), (e: unknown) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 413);
    assert.equal(e.code, "too_large");
    return true;
  });
  assert.ok(state.pulled <= 1, `pulled ${state.pulled} chunks`);
});

Deno.test("readLimitedBody stops reading a chunked body as soon as it passes the limit", async () => {
  const { stream, state } = countingBody(1000, 100);
  const req = new Request("http://x/", { method: "POST", body: stream });
  await assert.rejects(readLimitedBody(req, 250), (e: unknown) => e instanceof ApiError);
  assert.ok(state.pulled < 10, `pulled ${state.pulled} chunks`);
});
