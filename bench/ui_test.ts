import assert from "node:assert/strict";
import { formatUiReport } from "./ui.ts";

Deno.test("the UI report says PASS under the first page's goal, MISS over it, and the ratio", () => {
  const f = {
    firstPageBytes: 8000,
    scriptBytes: 800,
    overviewBytes: 40_000,
    overviewMs: 5,
    apiMs: 0.5,
  };
  const report = formatUiReport(f);
  assert.match(report, /PASS first page 8\.6 KB/);
  assert.match(report, /10\.00x the API's JSON/);
  assert.match(formatUiReport({ ...f, firstPageBytes: 200_000 }), /MISS first page/);
});
