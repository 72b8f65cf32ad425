import assert from "node:assert/strict";
import {
  addRound,
  downloadArgs,
  mbPerSec,
  parseCurl,
  type Transfer,
  uploadArgs,
} from "./transfer.ts";

const TARGET = { port: 8080, host: "bench.fossora.test", path: "/50m" };

function empty(): Transfer {
  return { bytes: 0, seconds: 0, transfers: 0, problems: [] };
}

Deno.test("curl's summary line gives status, bytes each way and time; the body comes before", () => {
  assert.deepEqual(parseCurl("\n200 50000000 0 0.512345\n", false), {
    status: 200,
    bytes: 50_000_000,
    seconds: 0.512345,
    body: "",
  });
  assert.deepEqual(parseCurl("read 50000161\n\n200 14 50000000 0.25\n", true), {
    status: 200,
    bytes: 50_000_000,
    seconds: 0.25,
    body: "read 50000161\n",
  });
  assert.throws(() => parseCurl("curl: (7) Failed to connect", false), /no transfer summary/);
});

Deno.test("downloads and uploads go to 127.0.0.1 with the service's Host, uploads without Expect", () => {
  const d = downloadArgs(TARGET, 60);
  assert.equal(d[d.indexOf("-H") + 1], "Host: bench.fossora.test");
  assert.equal(d[d.indexOf("-o") + 1], "/dev/null");
  assert.equal(d.at(-1), "http://127.0.0.1:8080/50m");
  const u = uploadArgs({ ...TARGET, path: "/upload" }, "/tmp/f", 60);
  assert.ok(u.includes("Expect:"), "curl must not wait for 100 Continue");
  assert.equal(u[u.indexOf("--data-binary") + 1], "@/tmp/f");
  assert.equal(u.at(-1), "http://127.0.0.1:8080/upload");
  assert.equal(u[u.indexOf("--max-time") + 1], "60");
});

Deno.test("a round counts its bytes and its slowest transfer's time", () => {
  const t = empty();
  addRound(
    t,
    [
      { status: 200, bytes: 100, seconds: 0.5 },
      { status: 200, bytes: 100, seconds: 1 },
    ],
    100,
    "download",
  );
  assert.deepEqual(t, { bytes: 200, seconds: 1, transfers: 2, problems: [] });
  assert.equal(mbPerSec({ ...t, bytes: 5e6 }), 5);
  assert.equal(mbPerSec(empty()), 0);
});

Deno.test("a round with a failed, refused or short transfer is not counted, and says why", () => {
  const t = empty();
  addRound(
    t,
    [
      { status: 200, bytes: 100, seconds: 0.5 },
      { status: 502, bytes: 10, seconds: 0.1 },
      { status: 200, bytes: 60, seconds: 0.4 },
      new Error("curl exited 28: timeout"),
    ],
    100,
    "download",
  );
  assert.equal(t.bytes, 0);
  assert.equal(t.transfers, 0);
  assert.deepEqual(t.problems, [
    "download answered 502",
    "download moved 60 of 100 bytes",
    "download failed: curl exited 28: timeout",
  ]);
});
