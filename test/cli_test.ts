/**
 * The `fossora` CLI against a real agent: deploy a file, list it, read its logs, remove it, and
 * the exit codes SPEC promises.
 */
import assert from "node:assert/strict";
import { TestAgent } from "./helpers/agent.ts";
import { waitFor } from "./helpers/wait.ts";

Deno.test("the CLI deploys, lists, shows logs of and removes a service on a real agent", async (t) => {
  await using agent = await TestAgent.start();
  const name = `cli-${crypto.randomUUID().slice(0, 6)}`;
  const file = `${agent.dataDir}/${name}.yaml`;
  await Deno.writeTextFile(
    file,
    `name: ${name}\nimage: fossora-test/busybox:1\ncommand: ["sh", "-c", "echo hello-from-${name}; exec httpd -f -p 80 -h /www"]\nports:\n  - container: 80\n    http: true\n`,
  );

  await t.step("deploy prints what it created and exits 0", async () => {
    const out = await agent.cli("deploy", file);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`created ${name} \\(generation 1\\)`));
  });

  await t.step("services shows it running with its URL", async () => {
    await waitFor(
      "the service to run",
      async () => {
        const out = await agent.cli("services");
        return out.code === 0 &&
          new RegExp(`${name}\\s+-\\s+fossora-test/busybox:1\\s+1/1`).test(out.stdout);
      },
      30_000,
      300,
    );
    const json = await agent.cli("services", "--json");
    const parsed = JSON.parse(json.stdout) as { services: { name: string; url: string }[] };
    assert.equal(parsed.services[0].url, `http://${name}.${agent.domain}/`);
  });

  await t.step("logs prints the container's output", async () => {
    await waitFor(
      "the log line",
      async () => {
        const out = await agent.cli("logs", name);
        return out.code === 0 && out.stdout.includes(`hello-from-${name}`);
      },
      15_000,
      300,
    );
  });

  await t.step("status and nodes show this node", async () => {
    const nodes = await agent.cli("nodes");
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /test-node\s+127\.0\.0\.1/);
    const status = await agent.cli("status");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /test-node/);
  });

  await t.step("an invalid file exits 1 with each problem by path", async () => {
    const bad = `${agent.dataDir}/bad.yaml`;
    await Deno.writeTextFile(bad, "name: Bad_Name\nimage: 5\nreplicas: -3\n");
    const out = await agent.cli("deploy", bad);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /name/);
    assert.match(out.stderr, /image/);
    assert.match(out.stderr, /replicas/);
  });

  await t.step("rm removes it; rm again exits 1 naming it", async () => {
    const out = await agent.cli("rm", name);
    assert.equal(out.code, 0, out.stderr);
    const again = await agent.cli("rm", name);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(name));
  });

  await t.step("bad arguments exit 2 with a usage", async () => {
    const out = await agent.cli("deploy");
    assert.equal(out.code, 2);
    assert.match(out.stderr, /usage/i);
    const unknown = await agent.cli("frobnicate");
    assert.equal(unknown.code, 2);
  });

  await t.step("token prints the cluster's join token", async () => {
    const out = await agent.cli("token");
    assert.equal(out.code, 0, out.stderr);
    const [token, , how, line] = out.stdout.split("\n");
    assert.match(token, /^FOSSORA-1-[0-9a-f]{64}-[a-z2-7]{26}$/);
    assert.match(how, /To add a machine/);
    assert.equal(line.trim(), `fossora agent --join 127.0.0.1:${agent.ports.api} --token ${token}`);
  });
});

Deno.test("the CLI says how to start the agent when none answers", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../src/main.ts", import.meta.url).pathname,
      "services",
      "--api",
      "http://127.0.0.1:9",
      "--api-token",
      "x",
    ],
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.match(stderr, /fossora agent/);
});

Deno.test("--version and --help work", async () => {
  for (const flag of ["--version", "--help"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../src/main.ts", import.meta.url).pathname, flag],
      stdin: "null",
    }).output();
    assert.equal(out.code, 0);
    assert.ok(new TextDecoder().decode(out.stdout).length > 0);
  }
});
