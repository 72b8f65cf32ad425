/**
 * The agent as systemd and a user see it: readiness notification, configuration errors that stop
 * start-up with one line, a missing image reported where the user looks, and its metrics.
 */
import assert from "node:assert/strict";
import { dockerArch } from "../src/membership/mod.ts";
import { TestAgent } from "./helpers/agent.ts";
import { foreignImage } from "./helpers/images.ts";
import { freePort } from "./helpers/ports.ts";
import { waitFor } from "./helpers/wait.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

Deno.test("the agent tells systemd READY=1 once it serves and STOPPING=1 when it stops", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-notify-" });
  const path = `${dir}/notify.sock`;
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const received: string[] = [];
  const reading = (async () => {
    try {
      for await (const [data] of socket) received.push(new TextDecoder().decode(data));
    } catch { /* closed */ }
  })();
  try {
    await using agent = await TestAgent.start({ NOTIFY_SOCKET: path });
    await waitFor("READY=1", () => received.includes("READY=1"));
    await agent.stop();
    await waitFor("STOPPING=1", () => received.includes("STOPPING=1"));
  } finally {
    socket.close();
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});

async function agentWith(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "agent", ...args],
    env,
    stdin: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
}

Deno.test("a bad configuration stops start-up with one line naming the key and the reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-config-" });
  try {
    const toml = `${dir}/fossora.toml`;
    await Deno.writeTextFile(toml, `data-dir = "${dir}/data"\nhttp-prot = 8080\n`);
    const cases: [string[], Record<string, string>, RegExp, number][] = [
      [[`--config=${toml}`], {}, /http-prot/, 1],
      [["--http-port=abc", `--config=${dir}/none.toml`], {}, /http-port.*abc/, 2],
      [["--no-such-flag"], {}, /unknown flag --no-such-flag/, 2],
      [[`--config=${dir}/missing.toml`], {}, /missing\.toml/, 2],
      [
        [],
        { FOSSORA_DNS_PORT: "-5", FOSSORA_CONFIG: `${dir}/none.toml` },
        /dns-port.*FOSSORA_DNS_PORT/,
        1,
      ],
    ];
    await Deno.writeTextFile(`${dir}/none.toml`, "");
    for (const [args, env, pattern, code] of cases) {
      const out = await agentWith(args, env);
      assert.equal(out.code, code, `${args.join(" ")}: ${out.stderr}`);
      assert.equal(out.stderr.split("\n").length, 1, out.stderr);
      assert.match(out.stderr, pattern);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an image that cannot be pulled shows as an error on the service instead of silent retries", async () => {
  await using agent = await TestAgent.start();
  const body = JSON.stringify({ name: "nopull", image: "fossora-test/does-not-exist:1" });
  await agent.json("/api/v1/services", {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  const replica = await waitFor(
    "the pull error",
    async () => {
      const svc = await agent.json<{ replicas: { state: string; message?: string }[] }>(
        "/api/v1/services/nopull",
      );
      return svc.replicas.find((r) => r.state === "error");
    },
    60_000,
    300,
  );
  assert.ok((replica.message ?? "").length > 0, "Docker's message is shown");
  const out = await agent.cli("services");
  assert.match(out.stdout, /nopull/);
});

Deno.test("metrics expose services, replicas, proxy requests, DNS queries and etcd health", async () => {
  await using agent = await TestAgent.start();
  const res = await agent.fetch("/metrics");
  const text = await res.text();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  for (const name of ["fossora_services", "fossora_replicas", "fossora_etcd_healthy 1"]) {
    assert.ok(text.includes(name), `${name} missing from:\n${text}`);
  }
  // Generate one proxy request and one DNS query, then see them counted.
  await new Deno.Command("dig", {
    args: ["@127.0.0.1", "-p", String(agent.ports.dns), `x.${agent.domain}`, "+time=2", "+tries=1"],
    stdout: "null",
  }).output();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: agent.ports.http });
  await conn.write(
    new TextEncoder().encode(
      `GET / HTTP/1.1\r\nHost: x.${agent.domain}\r\nConnection: close\r\n\r\n`,
    ),
  );
  for await (const _ of conn.readable) { /* drain */ }
  const after = await (await agent.fetch("/metrics")).text();
  assert.match(after, /fossora_proxy_requests_total\{service="",code="404"\} 1/);
  assert.match(after, /fossora_dns_queries_total\{result="nxdomain"\} 1/);
});

Deno.test("a service no node can run says why, and runs once its placement is fixed", async () => {
  await using agent = await TestAgent.start();
  const post = (placement: unknown) =>
    agent.json("/api/v1/services", {
      method: "POST",
      body: JSON.stringify({ name: "picky", image: "fossora-test/busybox:1", placement }),
      headers: { "content-type": "application/json" },
    });
  await post({ arch: ["s390x"] });
  const problem = await waitFor("the placement problem", async () => {
    const svc = await agent.json<{ problem: string | null }>("/api/v1/services/picky");
    return svc.problem ?? undefined;
  });
  assert.equal(problem, "cannot be placed: no ready node has arch s390x");
  const table = await agent.cli("services");
  assert.match(table.stdout, /picky: cannot be placed: no ready node has arch s390x/);
  await post({});
  await waitFor("the service to run without a problem", async () => {
    const svc = await agent.json<{ problem: string | null; replicas: { state: string }[] }>(
      "/api/v1/services/picky",
    );
    return svc.problem === null && svc.replicas[0]?.state === "running";
  }, 30_000);
});

Deno.test("start-up failures say what to do: a missing etcd, a port that is taken", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-fail-" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await Deno.writeTextFile(`${dir}/none.toml`, "");
    const base = [
      `--data-dir=${dir}/data`,
      `--config=${dir}/none.toml`,
      "--bind-addr=127.0.0.1",
      "--advertise-addr=127.0.0.1",
      "--api-port=0",
      "--dns-port=0",
      `--etcd-client-port=${freePort()}`,
      `--etcd-peer-port=${freePort()}`,
    ];
    const noEtcd = await agentWith([...base, "--http-port=0", "--etcd-bin=/nonexistent/etcd"]);
    assert.equal(noEtcd.code, 1);
    assert.match(
      noEtcd.stderr,
      /etcd \(\/nonexistent\/etcd\) is not installed; install .*--etcd-bin/,
    );
    const busy = await agentWith([...base, `--http-port=${(taken.addr as Deno.NetAddr).port}`]);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /the proxy cannot listen on .*--http-port/);
    assert.equal(busy.stderr.includes("    at "), false, "no stack trace");
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logs?follow=1 streams a container's new lines as they are written", async () => {
  await using agent = await TestAgent.start();
  const body = JSON.stringify({
    name: "ticker",
    image: "fossora-test/busybox:1",
    command: ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done"],
  });
  await agent.json("/api/v1/services", { method: "POST", body });
  await waitFor("the ticker to run", async () => {
    const svc = await agent.json<{ replicas: { state: string }[] }>("/api/v1/services/ticker");
    return svc.replicas[0]?.state === "running";
  }, 30_000);
  const stop = new AbortController();
  const res = await agent.fetch("/api/v1/services/ticker/logs?follow=1&tail=1", {
    signal: stop.signal,
  });
  assert.equal(res.status, 200);
  const seen: string[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  try {
    // tail=1 gives one old line; later ticks can only come from following the log.
    while (seen.filter((l) => l.startsWith("tick-")).length < 4) {
      const { value, done } = await reader.read();
      if (done) break;
      seen.push(...value.split("\n").filter(Boolean));
    }
  } finally {
    stop.abort();
    await reader.cancel().catch(() => {});
  }
  const ticks = seen.map((l) => Number(l.replace("tick-", "")));
  assert.equal(ticks.length >= 4, true, seen.join("|"));
  assert.deepEqual(ticks.slice(1), ticks.slice(1).map((_, i) => ticks[1] + i), "consecutive lines");
});

Deno.test("an image built only for another architecture is not placed, and the service says why", async () => {
  await using agent = await TestAgent.start();
  const image = await foreignImage(dockerArch() === "arm64" ? "amd64" : "arm64");
  const other = image.includes("arm64") ? "arm64" : "amd64";
  await agent.json("/api/v1/services", {
    method: "POST",
    body: JSON.stringify({ name: "foreign", image }),
    headers: { "content-type": "application/json" },
  });
  const problem = await waitFor("the placement problem", async () => {
    const svc = await agent.json<{ problem: string | null }>("/api/v1/services/foreign");
    return svc.problem ?? undefined;
  });
  assert.equal(
    problem,
    `cannot be placed: the image ${image} is built for ${other} and no ready node is; add such ` +
      "a node, or use an image built for your nodes too",
  );
  const svc = await agent.json<{ replicas: unknown[] }>("/api/v1/services/foreign");
  assert.deepEqual(svc.replicas, [], "nothing was started that could not run");
});
