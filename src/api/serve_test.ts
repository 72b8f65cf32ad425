import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import { createApi } from "./app.ts";
import { sampleView, testDeps } from "./fixtures.ts";
import { serveApi } from "./serve.ts";
import type { ApiDeps } from "./types.ts";

function app(logs: ApiDeps["logs"]) {
  return createApi(testDeps(sampleView(), { logs }));
}

/**
 * Serves the API with log streams that send `hello` and end when their signal aborts, and
 * follows `whoami`'s logs; `opened` gathers the signals of the streams opened.
 */
async function followHelloLogs(stop: AbortController) {
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
    return { opened, finished, reader: res.body!.getReader() };
  } catch (err) {
    stop.abort();
    await finished;
    throw err;
  }
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
  const { opened, finished, reader } = await followHelloLogs(stop);
  try {
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
  const { opened, finished, reader } = await followHelloLogs(stop);
  try {
    await reader.read();
    await reader.cancel();
    await waitFor(
      "the log sources to stop",
      () => opened.length === 2 && opened.every((s) => s.aborted),
      3000,
      10,
    );
  } finally {
    stop.abort();
    await finished;
  }
});
