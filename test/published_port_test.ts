/**
 * Published TCP ports: the node forwards a service's published port to its container, and a
 * second service cannot take the same port.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { freePort } from "./helpers/ports.ts";
import { waitFor } from "./helpers/wait.ts";

Deno.test("a published port reaches the service's container and cannot be taken twice", async () => {
  await using agent = await TestAgent.start();
  const port = freePort();
  const spec = (name: string) =>
    JSON.stringify({
      name,
      image: "fossora-test/busybox:1",
      ports: [{ container: 80, published: port }],
    });
  await agent.json("/api/v1/services", { method: "POST", body: spec("tcp-a") });
  const body = await waitFor(
    "the published port to answer",
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      return res.ok ? await res.text() : (await res.body?.cancel(), undefined);
    },
    30_000,
    200,
  );
  assert.equal(body.trim(), "hello from fossora-test");

  const res = await agent.fetch("/api/v1/services", { method: "POST", body: spec("tcp-b") });
  const answer = await res.json() as { error: { code: string; details: { message: string }[] } };
  assert.equal(res.status, 409);
  assert.equal(answer.error.code, "port_conflict");
  assert.match(answer.error.details[0].message, /already published by service tcp-a/);

  const own = await agent.fetch("/api/v1/services", {
    method: "POST",
    body: JSON.stringify({
      name: "tcp-c",
      image: "fossora-test/busybox:1",
      ports: [{ container: 80, published: agent.ports.api }],
    }),
  });
  assert.equal(own.status, 409);
  await own.body?.cancel();
});
