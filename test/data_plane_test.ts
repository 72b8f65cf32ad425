/**
 * The data plane on a real agent, in front of a real container: HTTPS with the cluster CA
 * (plain requests and WebSockets), and visitors that leave in the middle of slow requests, event
 * streams and upgrades, with the agent's open descriptors counted before and after.
 */
import assert from "node:assert/strict";
import { openDescriptors } from "../src/proxy/raw_test_util.ts";
import { websocketEcho } from "../src/proxy/test_util.ts";
import { TestAgent } from "./helpers/agent.ts";
import { httpRequest } from "./helpers/http.ts";
import { waitFor } from "./helpers/wait.ts";

const BACKEND = `
Deno.serve({ port: 8080 }, async (req) => {
  const path = new URL(req.url).pathname;
  if (path === "/slow" || path === "/ws-hang") return await new Promise(() => {});
  if (path === "/sse") {
    return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("data: 1\\n\\n")); } }),
      { headers: { "content-type": "text/event-stream" } });
  }
  if (req.headers.get("upgrade") === "websocket") {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send("echo: " + e.data);
    return response;
  }
  return new Response("proto " + req.headers.get("x-forwarded-proto"));
});`;

async function deployBackend(agent: TestAgent): Promise<string> {
  const name = `dp-${crypto.randomUUID().slice(0, 6)}`;
  await agent.json("/api/v1/services", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name,
      image: "fossora-test/deno:1",
      command: ["eval", BACKEND],
      ports: [{ container: 8080, http: true }],
    }),
  });
  const host = `${name}.${agent.domain}`;
  await waitFor(
    "the backend to answer through the proxy",
    async () => {
      return (await httpRequest(agent.ports.http, host)).status === 200;
    },
    60_000,
    300,
  );
  return host;
}

async function curl(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command("curl", { args: ["-sS", "--max-time", "10", ...args] })
    .output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("the real agent's data plane", async (t) => {
  await using agent = await TestAgent.start();
  const host = await deployBackend(agent);
  const ca = `${agent.dataDir}/pki/ca.crt`;
  const port = agent.ports.https;

  await t.step("https:// answers with a certificate the cluster CA vouches for", async () => {
    const url = `https://${host}:${port}/`;
    const ok = await waitFor(
      "the HTTPS certificate to be issued",
      async () => {
        const r = await curl(["--cacert", ca, "--resolve", `${host}:${port}:127.0.0.1`, url]);
        return r.code === 0 ? r : undefined;
      },
      20_000,
      200,
    );
    assert.equal(ok.out, "proto https");
    const untrusted = await curl(["--resolve", `${host}:${port}:127.0.0.1`, url]);
    assert.notEqual(untrusted.code, 0, "a client without the CA refuses it");
    assert.match(untrusted.err, /certificate/i);
    const pem = await Deno.readTextFile(`${agent.dataDir}/pki/proxy.key`);
    assert.match(pem, /PRIVATE KEY/);
    assert.equal((await Deno.stat(`${agent.dataDir}/pki/proxy.key`)).mode! & 0o777, 0o600);
  });

  await t.step("a WebSocket works over https", async () => {
    const echoed = await websocketEcho(port, host, "over tls", (p) =>
      Deno.connectTls({
        hostname: "127.0.0.1",
        port: p,
        caCerts: [Deno.readTextFileSync(ca)],
        [Symbol.for("unstableServerName")]: host,
      } as Deno.ConnectTlsOptions));
    assert.equal(echoed, "echo: over tls");
  });

  await t.step("visitors who leave take their backend connections with them", async () => {
    const pid = agent.child!.pid;
    const before = openDescriptors(pid);
    const conns: Deno.Conn[] = [];
    const enc = new TextEncoder();
    const ask = (path: string, extra = "") =>
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
    for (let i = 0; i < 40; i++) {
      for (
        const raw of [
          ask("/slow"),
          ask("/sse"),
          ask(
            "/ws-hang",
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
          ),
        ]
      ) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: agent.ports.http });
        await c.write(enc.encode(raw));
        conns.push(c);
      }
    }
    await waitFor(
      "every request to hold a backend connection",
      () => openDescriptors(pid) >= before + 2 * conns.length - 10,
      20_000,
      100,
    );
    for (const c of conns) c.close();
    const settled = await waitFor(
      `the agent's descriptors back near ${before}`,
      () => {
        const n = openDescriptors(pid);
        return n <= before + 5 ? n : undefined;
      },
      20_000,
      100,
    );
    assert.ok(settled <= before + 5);
    assert.equal((await httpRequest(agent.ports.http, host)).status, 200, "still serving");
  });

  await t.step("a saved certificate cut short is not served: etcd's takes its place", async () => {
    const saved = `${agent.dataDir}/pki/proxy.crt`;
    const whole = await Deno.readTextFile(saved);
    await agent.stop();
    await Deno.writeTextFile(saved, whole.slice(0, 300));
    await agent.restart();
    const url = `https://${host}:${port}/`;
    const r = await waitFor(
      "HTTPS to answer again",
      async () => {
        const r = await curl(["--cacert", ca, "--resolve", `${host}:${port}:127.0.0.1`, url]);
        return r.code === 0 ? r : undefined;
      },
      20_000,
      200,
    );
    assert.equal(r.out, "proto https");
    assert.ok(agent.output.some((l) => l.includes("the saved proxy certificate is not used")));
    assert.equal(await Deno.readTextFile(saved), whole, "the copy on disk is whole again");
  });
});
