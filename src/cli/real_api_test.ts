import assert from "node:assert/strict";
import { createApi, serveApi } from "../api/mod.ts";
import { sampleView, testDeps } from "../api/fixtures.ts";
import { runCli } from "./run.ts";

const enc = new TextEncoder();

/** Runs `fn` with the real API app over a `sampleView()` on a free port. */
async function withRealApi(fn: (url: string) => Promise<void>): Promise<void> {
  const app = createApi(testDeps(sampleView(), {
    adminToken: "admin",
    leader: () => "n1",
    joinToken: () => Promise.resolve("join"),
    logs: () => Promise.resolve(ReadableStream.from([enc.encode("hi\n")])),
    version: "1.0.0",
  }));
  const stop = new AbortController();
  const { port, finished } = await serveApi(app, {
    hostname: "127.0.0.1",
    port: 0,
    signal: stop.signal,
  });
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    stop.abort();
    await finished;
  }
}

async function cli(
  url: string,
  argv: string[],
  files: Record<string, string> = {},
  token = "admin",
) {
  const out = { stdout: "", stderr: "" };
  const code = await runCli(["--api", url, "--api-token", token, ...argv], {
    stdout: (s) => (out.stdout += s),
    stderr: (s) => (out.stderr += s),
    env: {},
    readFile: (p) =>
      p in files
        ? Promise.resolve(enc.encode(files[p]))
        : Promise.reject(new Deno.errors.NotFound(p)),
    now: () => new Date("2025-01-01T00:00:10.000Z"),
  });
  return { code, ...out };
}

Deno.test("the client works against the real API: deploy, services, rm, status, logs", async () => {
  await withRealApi(async (url) => {
    const file = {
      "web.yaml": "name: web\nimage: nginx:1\nports:\n  - container: 80\n    http: true\n",
    };
    let r = await cli(url, ["deploy", "web.yaml"], file);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "created web (generation 1)\n", ""]);
    r = await cli(url, ["deploy", "web.yaml"], file);
    assert.equal(r.stdout, "unchanged web (generation 1)\n");

    r = await cli(url, ["services"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^web +- +nginx:1 +0\/1 +- +http:\/\/web\.home\.test\/$/m);
    assert.match(
      r.stdout,
      /^whoami +- +example\/whoami:1 +2\/2 +pi-a,pi-b +http:\/\/whoami\.home\.test\/$/m,
    );

    r = await cli(url, ["nodes"]);
    assert.match(r.stdout, /^pi-b +10\.0\.0\.2 +amd64 +default +learner +ready +\d+ +10s ago$/m);

    r = await cli(url, ["status"]);
    assert.match(r.stdout, /^leader +pi-a$/m);

    r = await cli(url, ["logs", "whoami"]);
    assert.deepEqual(r.stdout.trimEnd().split("\n").sort(), ["[replica 0] hi", "[replica 1] hi"]);

    r = await cli(url, ["rm", "web"]);
    assert.deepEqual([r.code, r.stdout], [0, "removed web\n"]);
    r = await cli(url, ["rm", "web"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^fossora: no service or stack named "web"/);
  });
});

Deno.test("the client shows the real API's problems for an invalid file, and a wrong token", async () => {
  await withRealApi(async (url) => {
    let r = await cli(url, ["deploy", "bad.yaml"], { "bad.yaml": "name: Bad_Name\nimage: ''\n" });
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(
      lines[0],
      /^fossora: bad\.yaml: the service file has 2 problems; nothing was changed$/,
    );
    assert.match(lines[1], /^ {2}name: /);
    assert.match(lines[2], /^ {2}image: /);

    r = await cli(url, ["services"], {}, "wrong");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^fossora: the agent at .* refused the admin token from --api-token/);
  });
});

Deno.test("a file over the API's size limit is refused with the API's too_large message", async () => {
  await withRealApi(async (url) => {
    const big = "name: big\nimage: x:1\n" + "#".repeat(3 * 1024 * 1024) + "\n";
    const r = await cli(url, ["deploy", "big.yaml"], { "big.yaml": big });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^fossora: the request body is larger than 1048576 bytes/);
  });
});
