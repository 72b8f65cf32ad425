import assert from "node:assert/strict";
import { logsPath } from "./logs.ts";

Deno.test("logsPath puts only the given options in the query and escapes the name", () => {
  assert.equal(logsPath("web", { follow: false }), "/api/v1/services/web/logs");
  assert.equal(
    logsPath("web", { follow: true, tail: 0, replica: 2 }),
    "/api/v1/services/web/logs?follow=1&tail=0&replica=2",
  );
  assert.equal(logsPath("a/b", { follow: false }), "/api/v1/services/a%2Fb/logs");
});
