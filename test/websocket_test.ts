/**
 * A WebSocket through the node's proxy to a service's container: the backend is a real
 * WebSocket echo server running in a container the agent created.
 */
import assert from "node:assert/strict";
import { websocketEcho } from "../src/proxy/test_util.ts";
import { TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const ECHO_SERVER = `
Deno.serve({ port: 8080 }, (req) => {
  if (req.headers.get("upgrade") !== "websocket") {
    return new Response("echo " + req.headers.get("x-forwarded-for") + " " + req.headers.get("host"));
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send("echo: " + e.data);
  return response;
});`;

Deno.test("a WebSocket round trip through the proxy reaches a container and comes back", async () => {
  await using agent = await TestAgent.start();
  const name = `ws-${crypto.randomUUID().slice(0, 6)}`;
  const host = `${name}.${agent.domain}`;
  const spec = {
    name,
    image: "fossora-test/deno:1",
    command: ["eval", ECHO_SERVER],
    ports: [{ container: 8080, http: true }],
  };
  await agent.json("/api/v1/services", {
    method: "POST",
    body: JSON.stringify(spec),
    headers: { "content-type": "application/json" },
  });
  const plain = await waitFor(
    "the echo server to answer through the proxy",
    async () => {
      const res = await httpRequest(agent.ports.http, host);
      return res.status === 200 ? res : undefined;
    },
    60_000,
    300,
  );
  assert.match(plain.body, new RegExp(`^echo 127\\.0\\.0\\.1 ${host.replace(/\./g, "\\.")}`));
  assert.equal(await websocketEcho(agent.ports.http, host, "hello over ws"), "echo: hello over ws");
});
