import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import { createApi } from "./app.ts";
import { replica, sampleView, testDeps } from "./fixtures.ts";
import type { ApiDeps, LogOptions } from "./types.ts";

const AUTH = { authorization: "Bearer t" };
const enc = new TextEncoder();

type LogsFn = ApiDeps["logs"];

function setup(logs: LogsFn) {
  const view = sampleView();
  const app = createApi(testDeps(view, { logs }));
  return { app, view };
}

Deno.test("logs of a service with several replicas prefix each line with its replica", async () => {
  const calls: [number, string, LogOptions][] = [];
  const { app } = setup((_s, r, node, opts) => {
    calls.push([r, node, opts]);
    return Promise.resolve(ReadableStream.from([enc.encode(`a${r}\nb`), enc.encode(`${r}\n`)]));
  });
  const res = await app.request("/api/v1/services/whoami/logs?tail=5", { headers: AUTH });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const lines = (await res.text()).trimEnd().split("\n").sort();
  assert.deepEqual(lines, ["[replica 0] a0", "[replica 0] b0", "[replica 1] a1", "[replica 1] b1"]);
  assert.deepEqual(calls.map(([r, n, o]) => [r, n, o.follow, o.tail]).sort(), [
    [0, "n1", false, 5],
    [1, "n2", false, 5],
  ]);
});

Deno.test("logs of one replica are passed through without a prefix", async () => {
  const { app } = setup(() => Promise.resolve(ReadableStream.from([enc.encode("hello\n")])));
  const res = await app.request("/api/v1/services/whoami/logs?replica=1", { headers: AUTH });
  assert.equal(await res.text(), "hello\n");
});

Deno.test("logs answer 404 for an unknown service or replica, 409 without a container, 400 for a bad tail", async () => {
  const { app, view } = setup(() => Promise.resolve(ReadableStream.from([])));
  const cases: [string, number, string][] = [
    ["/api/v1/services/ghost/logs", 404, "not_found"],
    ["/api/v1/services/whoami/logs?replica=7", 404, "not_found"],
    ["/api/v1/services/whoami/logs?tail=-3", 400, "bad_request"],
    ["/api/v1/services/whoami/logs?replica=x", 400, "bad_request"],
  ];
  view.putReplica(
    replica("mc", 0, "n2", { state: "pending", ready: false, containerId: undefined }),
  );
  cases.push(["/api/v1/services/mc/logs", 409, "no_replicas"]);
  for (const [path, status, code] of cases) {
    const res = await app.request(path, { headers: AUTH });
    assert.equal(res.status, status, path);
    assert.equal((await res.json()).error.code, code, path);
  }
});

Deno.test("logs say which replica could not be opened and stream the others", async () => {
  const { app } = setup((_s, r) =>
    r === 0
      ? Promise.reject(new Error("node pi-a unreachable"))
      : Promise.resolve(ReadableStream.from([enc.encode("up\n")]))
  );
  const res = await app.request("/api/v1/services/whoami/logs", { headers: AUTH });
  const text = await res.text();
  assert.match(text, /^\[replica 0\] \(logs unavailable: node pi-a unreachable\)$/m);
  assert.match(text, /^\[replica 1\] up$/m);
});

Deno.test("logs answer 502 when no replica's log can be opened", async () => {
  const { app } = setup(() => Promise.reject(new Error("docker is down")));
  const res = await app.request("/api/v1/services/whoami/logs", { headers: AUTH });
  assert.equal(res.status, 502);
  const err = (await res.json()).error;
  assert.equal(err.code, "logs_unavailable");
  assert.match(err.message, /docker is down/);
});

Deno.test("followed logs stay open, deliver new lines, and end every source when the client goes away", async () => {
  const signals: AbortSignal[] = [];
  const controllers: ReadableStreamDefaultController<Uint8Array>[] = [];
  const { app } = setup((_s, _r, _n, opts) => {
    signals.push(opts.signal);
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        start(c) {
          controllers.push(c);
          opts.signal.addEventListener("abort", () => c.close(), { once: true });
        },
      }),
    );
  });
  const client = new AbortController();
  const res = await app.request("/api/v1/services/whoami/logs?follow=1", {
    headers: AUTH,
    signal: client.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  controllers[0].enqueue(enc.encode("first\n"));
  const { value } = await reader.read();
  assert.equal(new TextDecoder().decode(value), "[replica 0] first\n");
  assert.deepEqual(signals.map((s) => s.aborted), [false, false]);

  client.abort();
  await waitFor("the sources' signals to abort", () => signals.every((s) => s.aborted), 2000, 5);
  await reader.cancel();
});

Deno.test("cancelling a followed log body aborts the sources too", async () => {
  const signals: AbortSignal[] = [];
  const { app } = setup((_s, _r, _n, opts) => {
    signals.push(opts.signal);
    return Promise.resolve(new ReadableStream<Uint8Array>({}));
  });
  const res = await app.request("/api/v1/services/whoami/logs?follow=true", { headers: AUTH });
  await res.body!.cancel();
  assert.equal(signals.length, 2);
  assert.ok(signals.every((s) => s.aborted));
});
