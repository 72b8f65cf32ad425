import assert from "node:assert/strict";
import { parseWsArgs, parseWsResult, wsArgs, wsLoad, type WsLoadOptions } from "./ws_load.ts";
import { messagesPerSec, wsProblems } from "./websocket.ts";

const OPTIONS: WsLoadOptions = {
  port: 8080,
  host: "bench-ws.fossora.test",
  connections: 16,
  seconds: 5,
  warmup: 1,
  size: 64,
  reconnectEvery: 0,
};

Deno.test("the client's flags round-trip, with defaults and clear errors", () => {
  assert.deepEqual(parseWsArgs(wsArgs(OPTIONS)), OPTIONS);
  assert.deepEqual(parseWsArgs(["--port=1", "--host=h"]), { ...OPTIONS, port: 1, host: "h" });
  assert.throws(() => parseWsArgs(["--host=h"]), /--port and --host are required/);
  assert.throws(() => parseWsArgs(["--port=1", "--host=h", "--fast=1"]), /unknown flag --fast/);
  assert.throws(() => parseWsArgs(["--port=1", "--host=h", "--seconds=x"]), /needs a number/);
  assert.throws(() => parseWsArgs(["--port=1", "--host=h", "--connections=0"]), /above 0/);
  assert.throws(() => parseWsArgs(["--port"]), /--name=value/);
});

Deno.test("the client's result line is read back and checked", () => {
  const r = { messages: 500, seconds: 5, connections: 4, opened: 4, errors: 0, firstErrors: [] };
  assert.deepEqual(parseWsResult(`${JSON.stringify(r)}\n`), r);
  assert.equal(messagesPerSec(r), 100);
  assert.deepEqual(wsProblems(r), []);
  assert.deepEqual(wsProblems({ ...r, errors: 2, firstErrors: ["closed early (1006 )"] }), [
    "2 WebSocket errors (closed early (1006 ))",
  ]);
  assert.throws(() => parseWsResult("error: boom"), /printed no result/);
  assert.throws(() => parseWsResult('{"messages":1}'), /has no seconds/);
});

Deno.test("the client counts echoes through a real WebSocket server, reconnecting as asked", async () => {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  try {
    const r = await wsLoad({
      ...OPTIONS,
      port: server.addr.port,
      connections: 2,
      seconds: 0.5,
      warmup: 0.1,
      reconnectEvery: 50,
    });
    assert.equal(r.errors, 0, r.firstErrors.join("; "));
    assert.ok(r.messages > 100, `only ${r.messages} echoes`);
    assert.ok(r.opened > 2, "connections were reopened");
  } finally {
    await server.shutdown();
  }
});

Deno.test("a server that is not there is counted as errors, not hung on", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const r = await wsLoad({ ...OPTIONS, port, connections: 2, seconds: 0.2, warmup: 0 });
  assert.equal(r.messages, 0);
  assert.ok(r.errors >= 2);
});
