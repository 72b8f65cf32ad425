import assert from "node:assert/strict";
import { ApiError } from "./errors.ts";

Deno.test("ApiError becomes a JSON response with its status, code, message and details", async () => {
  const err = new ApiError(400, "invalid_spec", "bad", [{ path: "name", message: "missing" }]);
  const res = err.toResponse();
  assert.equal(res.status, 400);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(await res.json(), {
    error: {
      code: "invalid_spec",
      message: "bad",
      details: [{ path: "name", message: "missing" }],
    },
  });
});

Deno.test("ApiError defaults details to an empty list and keeps extra headers", async () => {
  const res = new ApiError(401, "unauthorized", "no", undefined, { "WWW-Authenticate": "Bearer" })
    .toResponse();
  assert.equal(res.headers.get("www-authenticate"), "Bearer");
  assert.deepEqual((await res.json()).error.details, []);
});
