import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { parseServiceFile } from "../spec/mod.ts";
import { silentLogger } from "../util/log.ts";
import { createApi } from "./app.ts";
import { MemoryStore, sampleView } from "./fixtures.ts";
import { serveApi } from "./serve.ts";
import type { ApiDeps } from "./types.ts";

function app(logs: ApiDeps["logs"]) {
  const view = sampleView();
  return createApi({
    view,
    services: new MemoryStore(view),
    adminToken: "t",
    nodeId: "n1",
    nodeName: "pi-a",
    domain: "home.test",
    ready: () => true,
    leader: () => undefined,
    etcdHealthy: () => true,
    joinToken: () => Promise.resolve("j"),
    logs,
    metrics: new Registry(),
    version: "0",
    parseServiceFile,
    logger: silentLogger,
  });
}

Deno.test("serveApi listens on a picked port and stops when its signal aborts", async () => {
  const stop = new AbortController();
  const { port, finished } = await serveApi(app(() => Promise.reject(new Error("x"))), {
    hostname: "127.0.0.1",
    port: 0,
    signal: stop.signal,
  });
  try {
    assert.ok(port > 0);
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/health`);
    assert.deepEqual(await res.json(), { ready: true, node: "pi-a" });
  } finally {
    stop.abort();
    await finished;
  }
});

Deno.test("stopping the server ends followed log streams instead of waiting for them", async () => {
  const stop = new AbortController();
  const opened: AbortSignal[] = [];
  const { port, finished } = await serveApi(
    app((_s, _r, _n, opts) => {
      opened.push(opts.signal);
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode("hello\n"));
            opts.signal.addEventListener("abort", () => c.close(), { once: true });
          },
        }),
      );
    }),
    { hostname: "127.0.0.1", port: 0, signal: stop.signal },
  );
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/services/whoami/logs?follow=1`, {
      headers: { authorization: "Bearer t" },
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /hello/);
    stop.abort();
    await finished;
    assert.ok(opened.every((s) => s.aborted));
    // The connection may end cleanly or be cut by the shutdown; either way the stream is over.
    await reader.cancel().catch(() => {});
  } finally {
    stop.abort();
    await finished;
  }
});

Deno.test("serveApi rejects with a clear message when the port is taken", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stop = new AbortController();
  try {
    await assert.rejects(
      serveApi(app(() => Promise.reject(new Error("x"))), {
        hostname: "127.0.0.1",
        port: taken.addr.port,
        signal: stop.signal,
      }),
      /port is in use.*--api-port/,
    );
  } finally {
    stop.abort();
    taken.close();
  }
});

Deno.test("a client that goes away ends the followed log streams it opened", async () => {
  const stop = new AbortController();
  const opened: AbortSignal[] = [];
  const { port, finished } = await serveApi(
    app((_s, _r, _n, opts) => {
      opened.push(opts.signal);
      return Promise.resolve(
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode("hello\n"));
            opts.signal.addEventListener("abort", () => c.close(), { once: true });
          },
        }),
      );
    }),
    { hostname: "127.0.0.1", port: 0, signal: stop.signal },
  );
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/services/whoami/logs?follow=1`, {
      headers: { authorization: "Bearer t" },
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const deadline = Date.now() + 3000;
    while (!(opened.length === 2 && opened.every((s) => s.aborted))) {
      if (Date.now() > deadline) throw new Error("the log sources were not stopped");
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    stop.abort();
    await finished;
  }
});
