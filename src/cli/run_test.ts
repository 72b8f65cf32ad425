import assert from "node:assert/strict";
import { runCli } from "./run.ts";
import type { CliIo } from "./io.ts";
import { apiError, type FakeApi, json, startFakeApi } from "./fake_api.ts";

const enc = new TextEncoder();
const NOW = new Date("2025-01-01T00:01:00.000Z");

/** A test terminal: captured output, files from a map, a fixed clock. */
function term(
  o: { env?: Record<string, string>; files?: Record<string, Uint8Array>; stdin?: Uint8Array } = {},
) {
  const out = { stdout: "", stderr: "", interrupt: undefined as (() => void) | undefined };
  const io: Partial<CliIo> = {
    stdout: (s) => (out.stdout += s),
    stderr: (s) => (out.stderr += s),
    env: o.env ?? {},
    readFile: (path) => {
      const f = o.files?.[path];
      return f
        ? Promise.resolve(new Uint8Array(f))
        : Promise.reject(new Deno.errors.NotFound(path));
    },
    readStdin: () => Promise.resolve(new Uint8Array(o.stdin ?? new Uint8Array())),
    now: () => NOW,
    sleep: () => Promise.resolve(),
    onInterrupt: (stop) => {
      out.interrupt = stop;
      return () => (out.interrupt = undefined);
    },
    version: "9.9.9",
  };
  return { io, out };
}

const NODES = {
  nodes: [
    {
      id: "n1",
      name: "pi-a",
      address: "10.0.0.1",
      arch: "arm64",
      site: "home-a",
      labels: {},
      role: "voter",
      state: "ready",
      version: "1",
      apiPort: 7440,
      httpPort: 80,
      dnsPort: 53,
      startedAt: "2025-01-01T00:00:00.000Z",
      lastSeen: "2025-01-01T00:00:57.000Z",
      drained: true,
      replicas: 2,
    },
    {
      id: "n2",
      name: "nuc",
      address: "10.0.0.2",
      arch: "amd64",
      site: "home-b",
      labels: {},
      role: "worker",
      state: "down",
      version: "1",
      apiPort: 7440,
      httpPort: 80,
      dnsPort: 53,
      startedAt: "2025-01-01T00:00:00.000Z",
      lastSeen: "2025-01-01T00:00:00.000Z",
      drained: false,
      replicas: 0,
    },
  ],
};

const EVENTS = {
  events: [
    {
      id: "0001735689600000-a",
      at: "2025-01-01T00:00:00.000Z",
      kind: "moved",
      service: "whoami",
      replica: 0,
      from: "nuc",
      to: "pi-a",
      message: "replica 0 moved from nuc to pi-a: nuc went down",
    },
  ],
};

const SERVICES = {
  services: [
    {
      name: "whoami",
      image: "traefik/whoami:v1.10",
      generation: 2,
      replicas: 2,
      running: 1,
      ready: 1,
      nodes: ["pi-a"],
      url: "http://whoami.home.arpa/",
      published: [],
      state: "degraded",
    },
    {
      name: "mc",
      image: "itzg/minecraft-server",
      generation: 1,
      replicas: 1,
      running: 0,
      ready: 0,
      nodes: [],
      url: null,
      published: [25565],
      publishedUdp: [19132],
      state: "pending",
    },
  ],
};

const CLUSTER = {
  id: "c-123",
  domain: "home.arpa",
  version: "1.0.0",
  leader: { id: "n1", name: "pi-a" },
  node: { id: "n1", name: "pi-a" },
  members: [
    { id: "n1", name: "pi-a", address: "10.0.0.1", role: "voter", state: "ready", leader: true },
    { id: "n2", name: "nuc", address: "10.0.0.2", role: "worker", state: "down", leader: false },
  ],
  resilience: {
    voters: 1,
    votersUp: 1,
    tolerates: 0,
    summary: "one voter (pi-a): if it fails, nothing can change until it is back",
  },
};

function fakeCluster(extra: Parameters<typeof startFakeApi>[0] = {}): FakeApi {
  return startFakeApi({
    "GET /api/v1/nodes": () => json(NODES),
    "GET /api/v1/services": () => json(SERVICES),
    "GET /api/v1/cluster": () => json(CLUSTER),
    "GET /api/v1/token": () => json({ token: "join-abc" }),
    "GET /api/v1/events": () => json(EVENTS),
    "DELETE /api/v1/services/whoami": () => json({ removed: "whoami" }),
    "DELETE /api/v1/services/ghost": () =>
      apiError(404, "not_found", 'no service named "ghost"; list them with `fossora services`'),
    ...extra,
  });
}

/** Runs the CLI against `api` with a token flag. */
async function run(api: FakeApi, argv: string[], t = term()) {
  const code = await runCli(["--api", api.url, "--api-token", "tok", ...argv], t.io);
  return { code, ...t.out };
}

Deno.test("nodes prints an aligned table with how long ago each node was seen", async () => {
  const api = fakeCluster();
  try {
    const r = await run(api, ["nodes"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "NAME  ADDRESS   ARCH   SITE    ROLE    STATE           REPLICAS  LAST SEEN\n" +
        "pi-a  10.0.0.1  arm64  home-a  voter   ready, drained  2         3s ago\n" +
        "nuc   10.0.0.2  amd64  home-b  worker  down            0         1m ago\n",
    );
    assert.equal(r.stderr, "");
    assert.equal(api.seen[0].headers.get("authorization"), "Bearer tok");
  } finally {
    await api.close();
  }
});

Deno.test("services prints running/wanted, nodes and the URL or published ports", async () => {
  const api = fakeCluster();
  try {
    const r = await run(api, ["services"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      // Grouped by stack (none here), then by name.
      "NAME    STACK  IMAGE                  REPLICAS  NODES  URL\n" +
        "mc      -      itzg/minecraft-server  0/1       -      tcp:25565,udp:19132\n" +
        "whoami  -      traefik/whoami:v1.10   1/2       pi-a   http://whoami.home.arpa/\n",
    );
  } finally {
    await api.close();
  }
});

Deno.test("--json prints the API's JSON", async () => {
  const api = fakeCluster();
  try {
    for (
      const [cmd, body] of [["nodes", NODES], ["services", SERVICES], ["token", {
        token: "join-abc",
      }]] as const
    ) {
      const r = await run(api, [cmd, "--json"]);
      assert.equal(r.code, 0);
      assert.deepEqual(JSON.parse(r.stdout), body);
    }
    const s = await run(api, ["--json", "status"]);
    assert.deepEqual(JSON.parse(s.stdout), {
      cluster: CLUSTER,
      services: SERVICES.services,
      events: EVENTS.events,
    });
  } finally {
    await api.close();
  }
});

Deno.test("status shows the cluster, this node, the leader, members and services", async () => {
  const api = fakeCluster();
  try {
    const r = await run(api, ["status"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cluster +c-123 \(domain home\.arpa\)$/m);
    assert.match(r.stdout, /^node +pi-a \(fossora 1\.0\.0\)$/m);
    assert.match(r.stdout, /^leader +pi-a$/m);
    assert.match(r.stdout, /^failures +one voter \(pi-a\): if it fails/m);
    assert.match(r.stdout, /^MEMBER +ADDRESS +ROLE +STATE +LEADER$/m);
    assert.match(r.stdout, /^pi-a +10\.0\.0\.1 +voter +ready +\*$/m);
    assert.match(r.stdout, /^nuc +10\.0\.0\.2 +worker +down$/m);
    assert.match(
      r.stdout,
      /^whoami +- +traefik\/whoami:v1\.10 +1\/2 +pi-a +http:\/\/whoami\.home\.arpa\/$/m,
    );
    assert.match(r.stdout, /^recent events/m);
    assert.match(
      r.stdout,
      /^2025-01-01T00:00:00\.000Z +replica 0 moved from nuc to pi-a: nuc went down$/m,
    );
  } finally {
    await api.close();
  }
});

Deno.test("services NAME shows where each replica runs, since when, and what happened to it", async () => {
  const api = fakeCluster({
    "GET /api/v1/services/whoami": () =>
      json({
        name: "whoami",
        spec: { name: "whoami", image: "traefik/whoami:v1.10", replicas: 1 },
        generation: 3,
        url: "http://whoami.home.arpa/",
        state: "ready",
        problem: null,
        replicas: [{
          replica: 0,
          node: "pi-a",
          nodeId: "n1",
          containerId: "0123456789abcdef",
          state: "running",
          ready: true,
          since: "2025-01-01T00:00:40.000Z",
          restarts: 0,
          generation: 3,
        }],
        nodes: [
          { node: "pi-a", nodeId: "n1", eligible: true, reason: null },
          { node: "pi-b", nodeId: "n2", eligible: false, reason: "pi-b has no /srv/media" },
        ],
        events: EVENTS.events,
      }),
  });
  try {
    const r = await run(api, ["services", "whoami"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service +whoami \(generation 3\)$/m);
    assert.match(r.stdout, /^replicas +1 ready of 1$/m);
    assert.match(r.stdout, /^0 +pi-a +running +yes +20s ago +0 +0123456789ab$/m);
    assert.match(r.stdout, /replica 0 moved from nuc to pi-a: nuc went down$/m);
    assert.match(r.stdout, /^NODE +PLACEMENT\npi-a +eligible\npi-b +pi-b has no \/srv\/media$/m);
    const missing = await run(api, ["services", "ghost"]);
    assert.equal(missing.code, 1);
    const extra = await run(api, ["services", "a", "b"]);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument "b"/);
  } finally {
    await api.close();
  }
});

Deno.test("nodes drain waits until the node runs no replica, saying how many are left", async () => {
  let polls = 0;
  const left = [2, 2, 1, 0];
  const api = fakeCluster({
    "POST /api/v1/nodes/pi-a/drain": () =>
      json({ node: "pi-a", drained: true, message: "pi-a is drained: its replicas move away" }),
    "POST /api/v1/nodes/pi-a/undrain": () =>
      json({ node: "pi-a", drained: false, message: "pi-a is undrained" }),
    "GET /api/v1/nodes": () => {
      const n = left[Math.min(polls++, left.length - 1)];
      return json({ nodes: [{ ...NODES.nodes[0], replicas: n }, NODES.nodes[1]] });
    },
  });
  try {
    const r = await run(api, ["nodes", "drain", "pi-a"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "pi-a is drained: its replicas move away\n" +
        "pi-a: 2 replicas to move\n" +
        "pi-a: 1 replica to move\n" +
        "pi-a runs no replica now\n",
    );
    const u = await run(api, ["nodes", "undrain", "pi-a"]);
    assert.deepEqual([u.code, u.stdout], [0, "pi-a is undrained\n"]);
    const bare = await run(api, ["nodes", "drain"]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /missing NAME/);
  } finally {
    await api.close();
  }
});

Deno.test("token prints the join token, and the line to add a machine when the node says", async () => {
  const api = fakeCluster();
  try {
    const r = await run(api, ["token"]);
    assert.deepEqual([r.code, r.stdout], [0, "join-abc\n"]);
  } finally {
    await api.close();
  }
  const through = fakeCluster({
    "GET /api/v1/token": () => json({ token: "join-abc", join: "10.0.0.5:7440" }),
  });
  try {
    const r = await run(through, ["token"]);
    assert.equal(r.stdout.split("\n")[0], "join-abc");
    assert.match(r.stdout, /^ {2}fossora agent --join 10\.0\.0\.5:7440 --token join-abc$/m);
  } finally {
    await through.close();
  }
});

Deno.test("rm removes a service, and an unknown one fails naming it and where to look", async () => {
  const api = fakeCluster();
  try {
    let r = await run(api, ["rm", "whoami"]);
    assert.deepEqual([r.code, r.stdout], [0, "removed whoami\n"]);
    r = await run(api, ["rm", "ghost"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      'fossora: no service or stack named "ghost"; list them with `fossora services` and ' +
        "`fossora stacks`\n",
    );
  } finally {
    await api.close();
  }
});

Deno.test("deploy sends the file's bytes with a type from its name and prints what changed", async () => {
  const api = startFakeApi({
    "POST /api/v1/services": () =>
      json({
        services: [
          { name: "whoami", generation: 1, created: true, changed: true },
          { name: "web", generation: 3, created: false, changed: true },
          { name: "mc", generation: 2, created: false, changed: false },
        ],
        warnings: ["compose key `restart` is ignored"],
      }),
  });
  try {
    const bytes = new Uint8Array([...enc.encode("name: x\n"), 0xff]);
    const t = term({ files: { "stack.yml": bytes } });
    const r = await run(api, ["deploy", "stack.yml"], t);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "created whoami (generation 1)\nupdated web (generation 3)\nunchanged mc (generation 2)\n",
    );
    assert.equal(r.stderr, "fossora: warning: compose key `restart` is ignored\n");
    assert.deepEqual([...api.seen[0].body], [...bytes]);
    assert.equal(api.seen[0].headers.get("content-type"), "application/yaml");
  } finally {
    await api.close();
  }
});

Deno.test("deploy - reads standard input", async () => {
  const api = startFakeApi({
    "POST /api/v1/services": () =>
      json({
        services: [{ name: "a", generation: 1, created: true, changed: true }],
        warnings: [],
      }),
  });
  try {
    const r = await run(api, ["deploy", "-"], term({ stdin: enc.encode('{"name":"a"}') }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(new TextDecoder().decode(api.seen[0].body), '{"name":"a"}');
    assert.equal(api.seen[0].headers.get("content-type"), null);
  } finally {
    await api.close();
  }
});

Deno.test("deploy of an invalid file prints one line, then each problem as path: message", async () => {
  const api = startFakeApi({
    "POST /api/v1/services": () =>
      apiError(400, "invalid_spec", "the service file has 2 problems; nothing was changed", [
        { path: "name", message: "must be a DNS label" },
        { path: "ports[0].container", message: "expected 1..65535" },
      ]),
  });
  try {
    const r = await run(
      api,
      ["deploy", "bad.json"],
      term({ files: { "bad.json": enc.encode("{}") } }),
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "fossora: bad.json: the service file has 2 problems; nothing was changed\n" +
        "  name: must be a DNS label\n" +
        "  ports[0].container: expected 1..65535\n",
    );
    assert.equal(api.seen[0].headers.get("content-type"), "application/json");
  } finally {
    await api.close();
  }
});

Deno.test("deploy of a missing file fails without calling the API", async () => {
  const api = startFakeApi({});
  try {
    const r = await run(api, ["deploy", "nope.yaml"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "fossora: cannot read nope.yaml: no such file; check the path\n");
    assert.equal(api.seen.length, 0);
  } finally {
    await api.close();
  }
});

Deno.test("logs copies the stream and passes follow, tail and replica", async () => {
  const api = startFakeApi({
    "GET /api/v1/services/whoami/logs": () => new Response("[replica 0] a\n[replica 1] b\n"),
  });
  try {
    const r = await run(api, ["logs", "whoami", "--tail", "5", "--replica", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "[replica 0] a\n[replica 1] b\n");
    assert.equal(api.seen[0].path, "/api/v1/services/whoami/logs?tail=5&replica=1");
  } finally {
    await api.close();
  }
});

Deno.test("logs -f streams until Ctrl-C, then ends with exit 0", async () => {
  const served = Promise.withResolvers<ReadableStreamDefaultController<Uint8Array>>();
  const api = startFakeApi({
    "GET /api/v1/services/whoami/logs": () =>
      new Response(new ReadableStream<Uint8Array>({ start: (c) => served.resolve(c) })),
  });
  try {
    const t = term();
    const running = run(api, ["logs", "whoami", "-f"], t);
    const controller = await served.promise;
    controller.enqueue(enc.encode("one\n"));
    const deadline = Date.now() + 3000;
    while (t.out.stdout !== "one\n" || !t.out.interrupt) {
      if (Date.now() > deadline) throw new Error(`no output yet: ${JSON.stringify(t.out)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    t.out.interrupt();
    const r = await running;
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, "one\n", ""]);
    assert.equal(api.seen[0].path, "/api/v1/services/whoami/logs?follow=1");
    assert.equal(t.out.interrupt, undefined, "the Ctrl-C handler is released");
    try {
      controller.close();
    } catch { /* the server may have closed it when the client went away */ }
  } finally {
    await api.close();
  }
});

Deno.test("an unreachable agent is one line naming the address and what to check", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${l.addr.port}`;
  l.close();
  const t = term({ env: { FOSSORA_API: url, FOSSORA_API_TOKEN: "x" } });
  const code = await runCli(["services"], t.io);
  assert.equal(code, 1);
  assert.equal(
    t.out.stderr,
    `fossora: cannot reach the agent at ${url} (connection refused); is \`fossora agent\` running? ` +
      "(systemctl status fossora)\n",
  );
});

Deno.test("--debug adds the stack trace to a failure", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${l.addr.port}`;
  l.close();
  const t = term({ env: { FOSSORA_API_TOKEN: "x" } });
  const code = await runCli(["--debug", "--api", url, "nodes"], t.io);
  assert.equal(code, 1);
  const lines = t.out.stderr.trimEnd().split("\n");
  assert.match(lines[0], /^fossora: debug: GET /);
  assert.match(lines[1], /^fossora: cannot reach/);
  assert.ok(lines.some((l) => /^\s+at /.test(l)), t.out.stderr);
});

Deno.test("the admin token is read from DATA_DIR/admin-token when not given", async () => {
  const api = fakeCluster();
  try {
    const t = term({
      env: { FOSSORA_API: api.url, FOSSORA_DATA_DIR: "/srv/fossora" },
      files: { "/srv/fossora/admin-token": enc.encode("from-file\n") },
    });
    assert.equal(await runCli(["token"], t.io), 0, t.out.stderr);
    assert.equal(api.seen[0].headers.get("authorization"), "Bearer from-file");
    const missing = term({ env: { FOSSORA_API: api.url } });
    assert.equal(await runCli(["token"], missing.io), 1);
    assert.match(
      missing.out.stderr,
      /^fossora: no admin token: \/var\/lib\/fossora\/admin-token does not exist/,
    );
    assert.equal(missing.out.stderr.split("\n").length, 2, "one line");
  } finally {
    await api.close();
  }
});

Deno.test("usage errors print a short usage on stderr and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [[], /no command given/],
    [["frob"], /unknown command "frob"/],
    [["deploy"], /missing FILE\nUsage: fossora deploy FILE/],
    [["rm", "a", "b"], /unexpected argument "b"\nUsage: fossora rm NAME/],
    [["nodes", "--nope"], /unknown flag --nope\nUsage: fossora nodes/],
    [["logs", "x", "--tail", "lots"], /--tail takes a whole number/],
  ];
  for (const [argv, message] of cases) {
    const t = term();
    assert.equal(await runCli(argv, t.io), 2, argv.join(" "));
    assert.match(t.out.stderr, message);
    assert.match(t.out.stderr, /Run `fossora .*--help` for more\.\n$/);
    assert.equal(t.out.stdout, "");
  }
});

Deno.test("--help lists every command, agent included; --version prints the version", async () => {
  let t = term();
  assert.equal(await runCli(["--help"], t.io), 0);
  for (const c of ["agent", "status", "nodes", "deploy", "services", "rm", "logs", "token"]) {
    assert.match(t.out.stdout, new RegExp(`^  ${c}\\b`, "m"), c);
  }
  t = term();
  assert.equal(await runCli(["logs", "--help"], t.io), 0);
  assert.match(t.out.stdout, /^Usage: fossora logs NAME/);
  t = term();
  assert.equal(await runCli(["--version"], t.io), 0);
  assert.equal(t.out.stdout, "fossora 9.9.9\n");
});
