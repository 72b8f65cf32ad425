/**
 * Bad input to a real agent: every invalid service file or API body is refused with a clear
 * error, and what was stored stays exactly as it was.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";

const IMAGE = "fossora-test/busybox:1";

/** Each case: a name, the body, its content type, the status and error code expected. */
const CORPUS: [string, BodyInit, string, number, string][] = [
  ["empty body", "", "application/json", 400, "invalid_spec"],
  ["JSON syntax error", '{"name": "x", ', "application/json", 400, "invalid_spec"],
  ["YAML syntax error", "name: [unclosed\n", "application/yaml", 400, "invalid_spec"],
  ["a bare number", "42", "application/json", 400, "invalid_spec"],
  [
    "name with capitals",
    `{"name":"Web","image":"${IMAGE}"}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "name too long",
    `{"name":"${"a".repeat(64)}","image":"${IMAGE}"}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "name with underscore",
    `{"name":"my_web","image":"${IMAGE}"}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  ["missing image", `{"name":"web"}`, "application/json", 400, "invalid_spec"],
  ["image is a number", `{"name":"web","image":7}`, "application/json", 400, "invalid_spec"],
  [
    "replicas is a string",
    `{"name":"web","image":"${IMAGE}","replicas":"two"}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "negative replicas",
    `{"name":"web","image":"${IMAGE}","replicas":-1}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "port out of range",
    `{"name":"web","image":"${IMAGE}","ports":[{"container":70000}]}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "two http ports",
    `{"name":"web","image":"${IMAGE}","ports":[{"container":80,"http":true},{"container":81,"http":true}]}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "env is a list of numbers",
    `{"name":"web","image":"${IMAGE}","env":[1,2]}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "unknown key",
    `{"name":"web","image":"${IMAGE}","replica":2}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "duplicate names in one file",
    `[{"name":"web","image":"${IMAGE}"},{"name":"web","image":"${IMAGE}"}]`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "relative volume path",
    `{"name":"web","image":"${IMAGE}","volumes":[{"name":"data","path":"data"}]}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "unknown placement arch",
    `{"name":"web","image":"${IMAGE}","placement":{"arch":["z80"]}}`,
    "application/json",
    400,
    "invalid_spec",
  ],
  [
    "compose with a key fossora cannot honour and a dependency it lacks",
    `name: s\nservices:\n  web:\n    image: ${IMAGE}\n    ipc: host\n    depends_on: [db]\n`,
    "application/yaml",
    400,
    "invalid_spec",
  ],
  [
    "compose that builds its image",
    `name: s\nservices:\n  web:\n    build: .\n    volumes: ["./data:/data"]\n`,
    "application/yaml",
    400,
    "invalid_spec",
  ],
  [
    "compose without a stack name",
    `services:\n  web:\n    image: ${IMAGE}\n`,
    "application/yaml",
    400,
    "invalid_spec",
  ],
  [
    "multi-document YAML",
    `name: a\nimage: ${IMAGE}\n---\nname: b\nimage: ${IMAGE}\n`,
    "application/yaml",
    400,
    "invalid_spec",
  ],
  [
    "non-UTF-8 bytes",
    new Uint8Array([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0xfe, 0x0a]),
    "application/yaml",
    400,
    "invalid_spec",
  ],
  [
    "a 2 MiB body",
    `{"name":"web","image":"${IMAGE}","env":{"A":"${"x".repeat(2 * 1024 * 1024)}"}}`,
    "application/json",
    413,
    "too_large",
  ],
  [
    "a list where one of two is invalid",
    `[{"name":"ok","image":"${IMAGE}"},{"name":"bad!","image":"${IMAGE}"}]`,
    "application/json",
    400,
    "invalid_spec",
  ],
];

Deno.test("invalid service bodies are refused with every problem and leave the services as they were", async (t) => {
  await using agent = await TestAgent.start();
  const good = `{"name":"keep","image":"${IMAGE}","replicas":0}`;
  await agent.json("/api/v1/services", {
    method: "POST",
    body: good,
    headers: { "content-type": "application/json" },
  });
  const before = JSON.stringify(await agent.json("/api/v1/services/keep"));
  assert.ok(CORPUS.length >= 20);

  for (const [name, body, type, status, code] of CORPUS) {
    await t.step(name, async () => {
      const res = await agent.fetch("/api/v1/services", {
        method: "POST",
        body,
        headers: { "content-type": type },
      });
      const answer = await res.json() as {
        error: { code: string; message: string; details: { path: string; message: string }[] };
      };
      assert.equal(res.status, status, JSON.stringify(answer));
      assert.equal(answer.error.code, code);
      assert.ok(answer.error.message.length > 10, "the message says what is wrong");
      if (code === "invalid_spec") {
        assert.ok(answer.error.details.length > 0, "every problem is listed");
        for (const d of answer.error.details) assert.equal(typeof d.message, "string");
      }
    });
  }

  await t.step("the stored service and the list are unchanged", async () => {
    assert.equal(JSON.stringify(await agent.json("/api/v1/services/keep")), before);
    const list = await agent.json<{ services: { name: string }[] }>("/api/v1/services");
    assert.deepEqual(list.services.map((s) => s.name), ["keep"]);
  });

  await t.step("the agent still serves after all of it", async () => {
    const res = await fetch(`${agent.api}/api/v1/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("the API refuses a missing or wrong token and accepts the admin token", async () => {
  await using agent = await TestAgent.start();
  for (
    const auth of [undefined, "Bearer wrong", `Bearer ${agent.token}x`, `Basic ${agent.token}`]
  ) {
    const headers: Record<string, string> = auth ? { authorization: auth } : {};
    const res = await fetch(`${agent.api}/api/v1/services`, { headers });
    const body = await res.json() as { error: { code: string; message: string } };
    assert.equal(res.status, 401, `authorization ${auth}`);
    assert.equal(body.error.code, "unauthorized");
    assert.match(body.error.message, /admin-token/);
  }
  const metrics = await fetch(`${agent.api}/metrics`);
  assert.equal(metrics.status, 401);
  await metrics.body?.cancel();
  const ok = await agent.fetch("/api/v1/services");
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const health = await fetch(`${agent.api}/api/v1/health`);
  assert.deepEqual(await health.json(), { ready: true, node: "test-node" });
});

Deno.test("the admin token file is readable by root only", async () => {
  await using agent = await TestAgent.start();
  const info = await Deno.stat(`${agent.dataDir}/admin-token`);
  assert.equal((info.mode ?? 0) & 0o777, 0o600);
});

Deno.test("leave and nodes rm on a lone node say what to do and change nothing", async () => {
  await using agent = await TestAgent.start();
  const leave = await agent.cli("leave");
  assert.equal(leave.code, 1);
  assert.match(leave.stderr, /only node.*stop the agent and empty its data dir/);
  const rm = await agent.cli("nodes", "rm", "no-such-node");
  assert.equal(rm.code, 1);
  assert.match(rm.stderr, /no node is named "no-such-node"; see fossora nodes/);
  const { nodes } = await agent.json<{ nodes: { state: string }[] }>("/api/v1/nodes");
  assert.deepEqual(nodes.map((n) => n.state), ["ready"]);
  assert.ok(await Deno.stat(`${agent.dataDir}/membership.json`), "still a member");
});
