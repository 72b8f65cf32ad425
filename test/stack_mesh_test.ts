/**
 * The stack mesh on two nodes (network namespaces, each with its own dockerd and agent), the
 * stacks deployed as compose files through the API (pinned with Swarm constraints), with a
 * third namespace standing for another machine of the LAN, and a resolver of the home on this
 * machine that the nodes forward internet names to. Two stacks, `shop` and `blog`, each
 * a `web` service whose page is built from what it fetches at `http://db:8080/`, and a `db`
 * that lists no port (its image EXPOSEs 8080, as a mariadb image does 3306). The webs are
 * pinned to node1 and the dbs to node2, so every fetch crosses nodes through the tunnel; then
 * shop's db moves to node1, and the page follows it; a service added to shop later is found by
 * name from web's container, made before it. Each stack's web gets its own stack's db.
 * Nothing outside a stack reaches its services: not another stack's container, not a LAN
 * machine routing to the virtual address, not a client of the tunnel without a node
 * certificate. A node's agent killed and started again serves its stack again and removes what
 * a crash left. Once a stack is gone, its network and addresses go too.
 */
import assert from "node:assert/strict";
import { virtualAddress } from "../src/mesh/mod.ts";
import { DENO_IMAGE, type Host, Hosts } from "./helpers/hosts.ts";
import { must, run } from "./helpers/run.ts";
import { waitFor } from "./helpers/wait.ts";
import { TestUpstream } from "../src/dns/test_upstream.ts";

/** The deno image with `EXPOSE 8080`, built in each host's engine. */
const EXPOSING_IMAGE = "fossora-test/deno-expose:1";
const DB = (stack: string) =>
  `Deno.serve({ port: 8080, onListen() {} }, () => new Response("db of ${stack} in " + Deno.hostname()));`;
/** A UDP echo on port 5300, as a syslog or statsd server is a UDP service of a stack. */
const UDP_ECHO =
  `const c = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 5300 });
for (;;) {
  const [data, from] = await c.receive();
  await c.send(new TextEncoder().encode("echo " + Deno.hostname() + " " + new TextDecoder().decode(data)), from);
}`;
/** Two datagrams to `echo:5300` from one socket; the answers and where they came from. */
const UDP_ASK = `const [a] = await Deno.resolveDns("echo", "A").catch(() => [undefined]);
const hosts = Deno.readTextFileSync("/etc/hosts").match(/^(\\S+)\\s+echo$/m);
const to = { transport: "udp", hostname: hosts?.[1] ?? a, port: 5300 };
const c = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
const got = [];
let from = "";
for (const n of [1, 2]) {
  await c.send(new TextEncoder().encode("hello " + n), to);
  const t = setTimeout(() => c.close(), 2000);
  const [d, addr] = await c.receive().catch(() => [undefined, undefined]);
  clearTimeout(t);
  if (!d) break;
  got.push(new TextDecoder().decode(d));
  from = addr.hostname + ":" + addr.port;
}
console.log(got.join(",") + " from " + from);`;
const HELLO = `Deno.serve({ port: 8080, onListen() {} }, () => new Response("hello"));`;
const DOMAIN = "fossora.home.arpa";
const WEB = `Deno.serve({ port: 8080, onListen() {} }, async () => {
  try {
    const r = await fetch("http://db:8080/", { signal: AbortSignal.timeout(3000) });
    return new Response("web page: " + await r.text());
  } catch (err) {
    return new Response("web failed: " + err.message, { status: 502 });
  }
});`;

/**
 * The stack's compose file, as a user writes it: `db` lists no port, `web` publishes its port,
 * and each is pinned to a node with a Swarm placement constraint. (JSON is YAML.)
 */
function composeFile(
  stack: string,
  dbOn: Host,
  webOn: Host,
  published: number,
  more: Record<string, Record<string, unknown> & { on: Host }> = {},
): string {
  const on = (h: Host) => ({ placement: { constraints: [`node.labels.pin == ${h.name}`] } });
  const extra = Object.fromEntries(
    Object.entries(more).map((
      [name, { on: host, ...def }],
    ) => [name, { ...def, deploy: on(host) }]),
  );
  return JSON.stringify({
    services: {
      ...extra,
      db: { image: EXPOSING_IMAGE, command: ["eval", DB(stack)], deploy: on(dbOn) },
      web: {
        image: DENO_IMAGE,
        command: ["eval", "--allow-net", WEB],
        ports: [`${published}:8080`],
        deploy: on(webOn),
      },
    },
  });
}

/** The last answer of each published port, for the failure message. */
const lastAnswer = new Map<number, string>();

/** What a web's published port answers on `h`, or undefined. */
async function page(h: Host, port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${h.address}:${port}/`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    lastAnswer.set(port, `${res.status} ${text}`);
    return res.ok ? text : undefined;
  } catch (err) {
    lastAnswer.set(port, String(err));
    return undefined;
  }
}

/** Shows what went wrong: the last answers and the agents' mesh lines. */
function explain(hosts: Host[]): void {
  console.error("last answers:", Object.fromEntries(lastAnswer));
  for (const h of hosts) {
    const lines = h.output.filter((l) => /mesh|tunnel|stack|"level":"(warn|error)"/.test(l));
    console.error(`${h.name}:\n${lines.slice(-30).join("\n")}`);
  }
}

/** Runs `deno eval` (its flags, then the code last) in container `id` on `h`'s engine. */
function denoEval(h: Host, id: string, ...args: string[]) {
  return h.docker("exec", id, "/bin/deno", "eval", ...args);
}

/** The id of the container of `service` on `h`'s engine, or undefined. */
async function containerOf(h: Host, service: string): Promise<string | undefined> {
  const r = await h.docker("ps", "-q", "--filter", `label=fossora.service=${service}`);
  return r.stdout.trim().split("\n").filter(Boolean)[0];
}

Deno.test("a stack's services reach each other by compose name across nodes, follow a moved service, and nothing outside the stack gets in", async (t) => {
  await using cluster = await Hosts.create(3, {
    startAgents: false,
    images: [DENO_IMAGE],
    agentFlags: (h) => [`--label=pin=${h.name}`],
  });
  const [n1, n2, lan] = cluster.hosts;
  // The home's resolver, on this machine's address on the bridge: names outside the domain go
  // there from the containers, through their node's DNS.
  await using upstream = TestUpstream.start(cluster.bridgeAddress);
  upstream.names.set("photos.example.org", { addresses: ["192.0.2.44"], ttl: 600 });
  const dnsUpstream = `--dns-upstream=${upstream.address}`;
  await n1.start([dnsUpstream]);
  const { token } = await n1.json<{ token: string }>("/api/v1/token");
  const tokenFile = `${cluster.dir}/join-token`;
  await Deno.writeTextFile(tokenFile, token + "\n", { mode: 0o600 });
  await n2.start([
    `--join=${n1.address}:${n1.apiPort}`,
    `--token-file=${tokenFile}`,
    dnsUpstream,
  ]);
  const dockerfile = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dockerfile}/Dockerfile`, `FROM ${DENO_IMAGE}\nEXPOSE 8080\n`);
  for (const h of [n1, n2]) {
    await must(["docker", "-H", h.dockerHost, "build", "-q", "-t", EXPOSING_IMAGE, dockerfile], {
      env: { DOCKER_BUILDKIT: "0" },
    });
  }
  await Deno.remove(dockerfile, { recursive: true });

  const pki = `${n1.dataDir}/pki`;
  const ports = { shop: 18080, blog: 18081, notes: 18082 };
  /** Deploys a stack's compose file through the API, as `fossora deploy` sends it. */
  const deploy = (stack: "shop" | "blog", dbOn: Host, more?: Parameters<typeof composeFile>[4]) =>
    n1.json("/api/v1/stacks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ file: composeFile(stack, dbOn, n1, ports[stack], more), stack }),
    });
  /** A step; once one fails, says why and stops (the next ones build on it). */
  const step = async (name: string, fn: () => Promise<void>) => {
    if (await t.step(name, fn)) return;
    explain([n1, n2]);
    throw new Error(`step failed: ${name}`);
  };

  let firstDb = "";
  await step(
    "web on node1 builds its page from db on node2, each stack from its own db",
    async () => {
      await deploy("shop", n2);
      await deploy("blog", n2);
      for (const stack of ["shop", "blog"] as const) {
        const body = await waitFor(
          `${stack}'s page`,
          async () => {
            const b = await page(n1, ports[stack]);
            return b?.startsWith("web page: ") ? b : undefined;
          },
          120_000,
          500,
        );
        assert.match(body, new RegExp(`^web page: db of ${stack} in \\w+$`));
        if (stack === "shop") firstDb = body.split(" in ")[1];
      }
      assert.ok(await containerOf(n2, "db.shop"), "db.shop runs on node2");
      assert.equal(await containerOf(n1, "db.shop"), undefined);
      // db lists no port: the container's port is not published on the node.
      const id = (await containerOf(n2, "db.shop"))!;
      assert.equal((await n2.docker("port", id)).stdout.trim(), "");
    },
  );

  await step(
    "a cluster service's NAME.DOMAIN resolves and answers inside a stack's container",
    async () => {
      await n1.json("/api/v1/services", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          name: "hello",
          image: DENO_IMAGE,
          command: ["eval", HELLO],
          ports: [{ container: 8080, http: true }],
          placement: { labels: { pin: n2.name } },
        }),
      });
      const shopWeb = (await containerOf(n1, "web.shop"))!;
      const out = await waitFor(
        "hello.DOMAIN from web.shop's container",
        async () => {
          const r = await denoEval(
            n1,
            shopWeb,
            `const a = await Deno.resolveDns("hello.${DOMAIN}", "A");
        const r = await fetch("http://hello.${DOMAIN}/", { signal: AbortSignal.timeout(3000) });
        console.log(a.sort().join(",") + " " + r.status + " " + await r.text());`,
          );
          return r.stdout.includes(" 200 ") ? r.stdout.trim() : undefined;
        },
        60_000,
        500,
      );
      assert.equal(out, `${[n1.address, n2.address].sort().join(",")} 200 hello`);
    },
  );

  await step(
    "an internet name resolves inside a stack's container, through its node's DNS to the home's resolver",
    async () => {
      const shopWeb = (await containerOf(n1, "web.shop"))!;
      const r = await denoEval(
        n1,
        shopWeb,
        `const { lookup } = await import("node:dns/promises");
        const a = await Deno.resolveDns("photos.example.org", "A");
        const l = await lookup("photos.example.org", { family: 4 });
        const ns = Deno.readTextFileSync("/etc/resolv.conf").match(/^nameserver .*$/gm);
        console.log(JSON.stringify({ resolved: a.join(","), looked: l.address, ns }));`,
      );
      const seen = JSON.parse(r.stdout || "{}");
      assert.equal(seen.resolved, "192.0.2.44", r.stdout + r.stderr);
      assert.equal(seen.looked, "192.0.2.44", "through the C library too");
      // The container asks its network's gateway, which is the node: never the upstream itself.
      assert.equal(seen.ns?.length, 1, String(seen.ns));
      assert.doesNotMatch(seen.ns[0], new RegExp(cluster.bridgeAddress.replaceAll(".", "\\.")));
      assert.ok(upstream.count("photos.example.org") >= 1, "the home's resolver was asked");
    },
  );

  await step("db moves to node1: the page follows it", async () => {
    await deploy("shop", n1);
    const body = await waitFor(
      "shop's page from the moved db",
      async () => {
        const b = await page(n1, ports.shop);
        return b?.startsWith("web page: db of shop in ") && !b.endsWith(firstDb) ? b : undefined;
      },
      120_000,
      500,
    );
    assert.match(body, /^web page: db of shop in \w+$/);
    await waitFor("db.shop gone from node2", async () => !(await containerOf(n2, "db.shop")));
    assert.ok(await containerOf(n1, "db.shop"), "db.shop runs on node1");
    assert.match((await page(n1, ports.blog)) ?? "", /^web page: db of blog in \w+$/);
  });

  await step(
    "a service added to the stack later answers by name in a container made before it",
    async () => {
      const shopWeb = (await containerOf(n1, "web.shop"))!;
      await deploy("shop", n1, {
        cache: { image: DENO_IMAGE, command: ["eval", HELLO], expose: [8080], on: n1 },
      });
      const out = await waitFor(
        "cache from web.shop's container",
        async () => {
          const r = await denoEval(
            n1,
            shopWeb,
            `const hosts = Deno.readTextFileSync("/etc/hosts");
            const r = await fetch("http://cache:8080/", { signal: AbortSignal.timeout(3000) });
            console.log(/\\scache$/m.test(hosts) + " " + r.status + " " + await r.text());`,
          );
          return r.stdout.includes(" 200 ") ? r.stdout.trim() : undefined;
        },
        90_000,
        500,
      );
      // Its hosts file has no line for cache: the name came from the node's DNS.
      assert.equal(out, "false 200 hello");
      assert.equal(await containerOf(n1, "web.shop"), shopWeb, "web was left as it was");
    },
  );

  await step(
    "UDP: a stack's service answers datagrams at its compose name across nodes",
    async () => {
      // A syslog-like echo on node2, reached from blog's web on node1 by name and UDP port.
      await deploy("blog", n2, {
        echo: {
          image: DENO_IMAGE,
          command: ["eval", "--unstable-net", UDP_ECHO],
          expose: ["5300/udp"],
          on: n2,
        },
      });
      const blogWeb = (await containerOf(n1, "web.blog"))!;
      const out = await waitFor(
        "echo's answer in web.blog's container",
        async () => {
          const r = await denoEval(n1, blogWeb, "--unstable-net", UDP_ASK);
          lastAnswer.set(5300, r.stdout + r.stderr);
          return r.stdout.startsWith("echo ") ? r.stdout.trim() : undefined;
        },
        90_000,
        500,
      );
      const echoId = (await containerOf(n2, "echo.blog"))!;
      assert.ok(echoId, "echo runs on node2");
      // Both through one session, and the answers come from the address and port asked.
      const vip = virtualAddress("echo.blog");
      assert.match(out, /^echo \S+ hello 1,echo \S+ hello 2 from /);
      assert.ok(out.endsWith(` from ${vip}:5300`), out);
      const host = (await n2.docker("inspect", "-f", "{{.Config.Hostname}}", echoId)).stdout.trim();
      assert.ok(out.startsWith(`echo ${host} `), `${out} from ${host}`);
    },
  );

  await step(
    "two services that share a volume run on one node and see the same files",
    async () => {
      const writer = `Deno.writeTextFileSync("/data/note", "written by " + Deno.hostname());
setInterval(() => {}, 1e9);`;
      const reader = `Deno.serve({ port: 8080, onListen() {} }, () => {
  try { return new Response(Deno.readTextFileSync("/data/note")); }
  catch { return new Response("no note", { status: 404 }); }
});`;
      await n1.json("/api/v1/stacks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          stack: "notes",
          file: JSON.stringify({
            services: {
              // node1 runs more already, so the reader alone would go to node2.
              writer: {
                image: DENO_IMAGE,
                command: ["eval", writer],
                volumes: ["data:/data"],
                deploy: { placement: { constraints: [`node.labels.pin == ${n1.name}`] } },
              },
              reader: {
                image: DENO_IMAGE,
                command: ["eval", reader],
                volumes: ["data:/data:ro"],
                ports: [`${ports.notes}:8080`],
              },
            },
            volumes: { data: {} },
          }),
        }),
      });
      const note = await waitFor(
        "the reader's page",
        async () => {
          const b = await page(n1, ports.notes);
          return b?.startsWith("written by ") ? b : undefined;
        },
        90_000,
        500,
      );
      const where = async (service: string) => {
        for (const h of [n1, n2]) {
          const id = await containerOf(h, service);
          if (id) return { h, id };
        }
        return undefined;
      };
      const w = (await where("writer.notes"))!;
      const r = (await where("reader.notes"))!;
      assert.equal(w.h.name, n1.name);
      assert.equal(r.h.name, n1.name, "the reader runs where the volume it shares is");
      const host = (await w.h.docker("inspect", "-f", "{{.Config.Hostname}}", w.id)).stdout.trim();
      assert.equal(note, `written by ${host}`);
      const volumes = (await w.h.docker("volume", "ls", "-q")).stdout.split("\n");
      assert.ok(volumes.includes("fossora_notes_data"), volumes.join(" "));
      await n1.json("/api/v1/stacks/notes", { method: "DELETE" });
      await waitFor(
        "the notes stack gone",
        async () => !(await where("writer.notes")) && !(await where("reader.notes")),
        60_000,
        500,
      );
    },
  );

  const shopDb = virtualAddress("db.shop");
  await step("another stack's container cannot reach shop's db", async () => {
    const blogWeb = (await containerOf(n1, "web.blog"))!;
    const shopWeb = (await containerOf(n1, "web.shop"))!;
    const probe = (id: string) =>
      denoEval(
        n1,
        id,
        `try { const r = await fetch("http://${shopDb}:8080/", { signal: AbortSignal.timeout(3000) }); console.log("got " + await r.text()); } catch (e) { console.log("refused " + e.message); }`,
      );
    assert.match((await probe(shopWeb)).stdout, /^got db of shop/, "the control: its own stack");
    assert.match((await probe(blogWeb)).stdout, /^refused /);
  });

  await step("a LAN machine routing to the virtual address gets nothing", async () => {
    await must(["ip", "-n", lan.netns, "route", "add", "198.18.0.0/15", "via", n1.address]);
    const r = await lan.exec(["curl", "-sS", "--max-time", "3", `http://${shopDb}:8080/`]);
    assert.notEqual(r.code, 0, `curl got: ${r.stdout}`);
    assert.equal(r.stdout, "");
    // The connection reached node1 and was shut: not a routing failure.
    assert.match(r.stderr, /Empty reply|reset|closed/i);
  });

  await step("the tunnel refuses a client without a node certificate", async () => {
    const meshPort = 7441;
    const ca = await Deno.readTextFile(`${pki}/ca.crt`);
    const conn = await Deno.connectTls({ hostname: n2.address, port: meshPort, caCerts: [ca] });
    try {
      const req = { service: "db.blog", container: "172.17.0.2", port: 8080 };
      const line = `FMESH1 ${JSON.stringify(req)}\n`;
      await conn.write(new TextEncoder().encode(line));
      const buf = new Uint8Array(512);
      const n = await conn.read(buf);
      assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^NO .*proof/);
    } finally {
      conn.close();
    }
  });

  await step(
    "after a crash node2's agent serves its stack again and removes what no stack uses",
    async () => {
      // What a crash could leave: a stack's network with no container, an address of none.
      await n2.docker(
        "network",
        "create",
        "--label",
        "fossora.stack=ghost",
        "--label",
        `fossora.node=${n2.nodeId}`,
        "fossora-ghost",
      );
      await must(["ip", "-n", n2.netns, "addr", "add", "198.18.255.1/32", "dev", "lo"]);
      await n2.kill();
      await n2.start();
      await waitFor(
        "blog's page through the restarted node2",
        async () => {
          const b = await page(n1, ports.blog);
          return b?.startsWith("web page: db of blog in ");
        },
        120_000,
        500,
      );
      await waitFor(
        "the leftovers removed",
        async () => {
          const nets = (await n2.docker("network", "ls", "--format", "{{.Name}}")).stdout;
          const lo = (await run(["ip", "-n", n2.netns, "-4", "-o", "addr", "show", "dev", "lo"]))
            .stdout;
          return !nets.includes("fossora-ghost") && !lo.includes("198.18.255.1/32");
        },
        60_000,
        500,
      );
    },
  );

  await step("a stack gone from a node leaves neither network nor address there", async () => {
    const blogDb = virtualAddress("db.blog");
    const lo = async () =>
      (await run(["ip", "-n", n2.netns, "-4", "-o", "addr", "show", "dev", "lo"])).stdout;
    assert.match(await lo(), new RegExp(`inet ${blogDb.replaceAll(".", "\\.")}/32`));
    // `fossora rm blog`: the whole stack at once.
    await n1.json("/api/v1/stacks/blog", { method: "DELETE" });
    await waitFor(
      "fossora-blog removed from node2",
      async () => {
        const nets = (await n2.docker("network", "ls", "--format", "{{.Name}}")).stdout;
        return !nets.includes("fossora-blog");
      },
      90_000,
      500,
    );
    await waitFor(
      "blog's address removed from node2",
      async () => !(await lo()).includes(blogDb),
    );
    const nets = (await n2.docker("network", "ls", "--format", "{{.Name}}")).stdout;
    assert.ok(!nets.includes("fossora-shop"), "node2 has no shop container any more");
  });
});
