/**
 * Nodes join a cluster with its token, on real agents (loopback, one machine): the second node
 * becomes a worker (a client of the one voter), the third a voter (a learner that catches up and
 * is promoted), and then the second a voter too (three voters); a wrong token is refused; the
 * admission log shows each step, one node at a time.
 */
import assert from "node:assert/strict";
import { newKeyAndRequest } from "../src/etcd/mod.ts";
import { TestAgent } from "./helpers/agent.ts";
import { freePort } from "./helpers/ports.ts";
import { waitFor } from "./helpers/wait.ts";

/** The admission log as `name event` lines, read through the CLI of `agent`. */
async function history(agent: TestAgent): Promise<string[]> {
  const out = await agent.cli("nodes", "--history", "--json");
  return (JSON.parse(out.stdout).events as { name: string; event: string }[])
    .map((e) => `${e.name} ${e.event}`);
}

/**
 * The log once it has `line`: a joiner is ready as soon as it is in, and the leader writes
 * "admitted" at its next step.
 */
function historyWith(agent: TestAgent, line: string): Promise<string[]> {
  return waitFor(
    `"${line}" in the admission log`,
    async () => {
      const lines = await history(agent);
      return lines.includes(line) ? lines : undefined;
    },
    15_000,
    200,
  );
}

Deno.test("nodes join with the token: a worker, then a voter, one admission at a time", async (t) => {
  await using first = await TestAgent.start({}, { name: "first" });
  const { token } = await first.json<{ token: string }>("/api/v1/token");
  const through = `127.0.0.1:${first.ports.api}`;

  await t.step("a wrong token is refused and changes nothing", async () => {
    const wrong = token.replace(/-[a-z2-7]+$/, "-aaaaaaaaaaaaaaaaaaaaaaaaaa");
    const agent = await TestAgent.start({}, {
      name: "intruder",
      args: [`--join=${through}`, `--token=${wrong}`],
    }).catch((err) => err as Error);
    assert.ok(agent instanceof Error, "it does not become ready");
    assert.match(agent.message, /not this cluster's/);
    const nodes = await first.json<{ nodes: { name: string }[] }>("/api/v1/nodes");
    assert.deepEqual(nodes.nodes.map((n) => n.name), ["first"]);
  });

  await using second = await TestAgent.start({}, {
    name: "second",
    args: [`--join=${through}`, `--token=${token}`],
  });
  await using third = await TestAgent.start({}, {
    name: "third",
    args: [`--join=${through}`, `--token=${token}`],
  });

  await t.step(
    "the third joins as a voter, then the second is made one too: three voters",
    async () => {
      const roles = await waitFor("three voters", async () => {
        const { nodes } = await first.json<{ nodes: { name: string; role: string }[] }>(
          "/api/v1/nodes",
        );
        const roles = Object.fromEntries(nodes.map((n) => [n.name, n.role]));
        return Object.values(roles).every((r) => r === "voter") ? roles : undefined;
      }, 30_000);
      assert.deepEqual(roles, { first: "voter", second: "voter", third: "voter" });
      const saved = JSON.parse(await Deno.readTextFile(`${second.dataDir}/membership.json`));
      assert.equal(saved.role, "voter");
      assert.equal(saved.founder, false);
      assert.ok((await Deno.stat(`${second.dataDir}/etcd`)).isDirectory);
      assert.ok((await Deno.stat(`${third.dataDir}/etcd`)).isDirectory);
    },
  );

  await t.step("the joiners serve the cluster's state too", async () => {
    await first.json("/api/v1/services", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "web", image: "fossora-test/busybox:1" }),
    });
    // Each node's mirror follows etcd by a watch, which may be reconnecting to another voter
    // right after the roles changed.
    for (const node of [second, third]) {
      await waitFor(`web on ${node.name}`, async () => {
        const { services } = await node.json<{ services: { name: string }[] }>("/api/v1/services");
        return services.some((s) => s.name === "web");
      }, 15_000);
    }
  });

  await t.step("the admission log shows each node's steps, never two at once", async () => {
    const lines = await historyWith(first, "second promoted");
    const second = lines.filter((l) => l.startsWith("second "));
    const third = lines.filter((l) => l.startsWith("third "));
    // A worker first (one voter suits two nodes), a voter once there are three.
    assert.deepEqual(
      second,
      [
        "second queued",
        "second admitting",
        "second certificate-issued",
        "second admitted",
        "second promoting",
        "second learner-added",
        "second promoted",
        "second admitted",
      ].slice(0, second.length),
    );
    assert.ok(second.length >= 7, lines.join("\n"));
    assert.deepEqual(third, [
      "third queued",
      "third admitting",
      "third learner-added",
      "third promoted",
      "third admitted",
    ]);
    assert.ok(
      lines.indexOf("second admitted") < lines.indexOf("third admitting"),
      lines.join("\n"),
    );
    assert.ok(
      lines.indexOf("third admitted") < lines.indexOf("second promoting"),
      lines.join("\n"),
    );
  });

  await t.step("a node without a token waits as pending until a person approves it", async () => {
    const starting = TestAgent.start({}, { name: "fourth", args: [`--join=${through}`] });
    const history = async () => {
      const out = await first.cli("nodes", "--history", "--json");
      return (JSON.parse(out.stdout).events as { name: string; event: string }[])
        .filter((e) => e.name === "fourth").map((e) => e.event);
    };
    const deadline = Date.now() + 30_000;
    while (!(await history()).includes("pending")) {
      assert.ok(Date.now() < deadline, "the tokenless node was never listed as pending");
      await new Promise((r) => setTimeout(r, 200));
    }
    const approved = await first.cli("nodes", "approve", "fourth");
    assert.equal(approved.code, 0, approved.stderr);
    await using fourth = await starting;
    await historyWith(first, "fourth admitted");
    // Three voters suit four nodes: the fourth is a worker.
    assert.deepEqual(await history(), [
      "pending",
      "approved",
      "admitting",
      "certificate-issued",
      "admitted",
    ]);
    const roles = (await first.json<{ nodes: { name: string; role: string }[] }>("/api/v1/nodes"))
      .nodes.map((n) => `${n.name} ${n.role}`).sort();
    assert.deepEqual(roles, ["first voter", "fourth worker", "second voter", "third voter"]);
    await fourth.stop();
  });

  // The voters stop one at a time, while the others keep quorum.
  await second.stop();
});

Deno.test("five agents started at the same moment all become members, one admission at a time", async () => {
  const agents: TestAgent[] = [];
  try {
    const first = await TestAgent.start({}, { name: "n1" });
    agents.push(first);
    const { token } = await first.json<{ token: string }>("/api/v1/token");
    const args = [`--join=127.0.0.1:${first.ports.api}`, `--token=${token}`];
    const t0 = Date.now();
    const started = await Promise.allSettled(
      ["n2", "n3", "n4", "n5"].map((name) => TestAgent.start({}, { name, args })),
    );
    for (const s of started) if (s.status === "fulfilled") agents.push(s.value);
    assert.deepEqual(started.map((s) => s.status), Array(4).fill("fulfilled"));
    console.log(`four joiners were members ${Date.now() - t0} ms after they started`);
    const nodes = (await first.json<{ nodes: { name: string }[] }>("/api/v1/nodes")).nodes;
    assert.deepEqual(nodes.map((n) => n.name).sort(), ["n1", "n2", "n3", "n4", "n5"]);
    // A joiner is ready once it is in; the leader writes "admitted" at its next step.
    let events: { name: string; event: string }[] = [];
    const deadline = Date.now() + 10_000;
    for (;;) {
      const out = await first.cli("nodes", "--history", "--json");
      events = JSON.parse(out.stdout).events;
      const admitted = new Set(events.filter((e) => e.event === "admitted").map((e) => e.name));
      if (admitted.size === 4) break;
      assert.ok(Date.now() < deadline, "the leader never logged every admission");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Admissions (and promotions of a worker to a voter) never overlap: each one ends before the
    // next begins.
    let open: string | undefined;
    for (const e of events) {
      if (e.event === "admitting" || e.event === "promoting") {
        assert.equal(open, undefined, `${e.name} began while ${open} was being admitted`);
        open = e.name;
      } else if (e.event === "admitted" || e.event === "timed-out" || e.event === "aborted") {
        assert.equal(e.name, open);
        open = undefined;
      }
    }
    assert.equal(new Set(events.filter((e) => e.event === "admitted").map((e) => e.name)).size, 4);
  } finally {
    // Workers first, then voters, the founder last: quorum holds as long as it can.
    for (const a of agents.reverse()) await a[Symbol.asyncDispose]();
  }
});

Deno.test("a joiner that dies mid-admission leaves no learner behind and the next gets in", async () => {
  const agents: TestAgent[] = [];
  const dir = await Deno.makeTempDir();
  try {
    const first = await TestAgent.start({}, { name: "d1" });
    agents.push(first);
    const { token } = await first.json<{ token: string }>("/api/v1/token");
    const args = [`--join=127.0.0.1:${first.ports.api}`, `--token=${token}`];
    agents.push(await TestAgent.start({}, { name: "d2", args })); // a worker
    // The third node is to be a voter: it asks, is told to start its member, and dies.
    const ca = await (await fetch(`${first.api}/api/v1/ca.crt`)).text();
    const client = Deno.createHttpClient({ caCerts: [ca] });
    const url = `https://127.0.0.1:${first.ports.apiTls}/api/v1/join`;
    const ticket = "a-ticket-of-the-joiner-that-dies";
    const post = async (path: string, body: unknown) => {
      const res = await fetch(url + path, { method: "POST", body: JSON.stringify(body), client });
      return await res.json();
    };
    let answer = await post("", {
      token,
      ticket,
      id: "dead0000dead0000",
      name: "dies",
      address: "127.0.0.1",
      apiPort: freePort(),
      etcdPeerPort: freePort(),
      etcdClientPort: freePort(),
      arch: "amd64",
      site: "default",
      version: "test",
      csr: await newKeyAndRequest(`${dir}/k`, "dies"),
    });
    const deadline = Date.now() + 20_000;
    while (answer.status !== "admitted") {
      assert.ok(Date.now() < deadline, `never admitted: ${JSON.stringify(answer)}`);
      await new Promise((r) => setTimeout(r, 200));
      answer = await post("/status", { id: "dead0000dead0000", ticket });
    }
    assert.equal(answer.role, "voter");
    client.close();
    // It dies here: its member is never started. The next voter still gets in.
    const next = await TestAgent.start({}, { name: "d4", args });
    agents.push(next);
    const out = await first.cli("nodes", "--history", "--json");
    const events = (JSON.parse(out.stdout).events as { name: string; event: string }[])
      .map((e) => `${e.name} ${e.event}`);
    assert.ok(events.includes("dies timed-out"), events.join("\n"));
    assert.ok(events.indexOf("dies timed-out") < events.indexOf("d4 learner-added"));
    // Three nodes make three voters: the worker d2 is promoted once d4 is in.
    const roles = async () =>
      (await first.json<{ nodes: { name: string; role: string }[] }>("/api/v1/nodes"))
        .nodes.map((n) => `${n.name} ${n.role}`).sort().join(", ");
    await waitFor(
      "three voters",
      async () => (await roles()) === "d1 voter, d2 voter, d4 voter",
      30_000,
    );
  } finally {
    for (const a of agents.reverse()) await a[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the leader killed with three nodes queued: all three still get in", async () => {
  const agents: TestAgent[] = [];
  try {
    const first = await TestAgent.start({}, { name: "l1" });
    agents.push(first);
    const { token } = await first.json<{ token: string }>("/api/v1/token");
    const via = (a: TestAgent) => `127.0.0.1:${a.ports.api}`;
    const join = (name: string, through: TestAgent[]) =>
      TestAgent.start({}, {
        name,
        args: [`--join=${through.map(via).join(",")}`, `--token=${token}`],
      });
    // Three voters (l1, l3, l4) and a worker (l2), so one voter can die with quorum kept.
    for (const name of ["l2", "l3", "l4"]) agents.push(await join(name, [first]));
    const leaderId = (await first.json<{ leader: { id: string } }>("/api/v1/cluster")).leader.id;
    const leader = agents.find((a) => a.nodeId === leaderId)!;
    const others = agents.filter((a) => a !== leader && a.name !== "l2");
    const queued = ["q1", "q2", "q3"].map((name) => join(name, others));
    const history = async () => {
      const out = await others[0].cli("nodes", "--history", "--json");
      return (JSON.parse(out.stdout).events as { name: string; event: string }[])
        .map((e) => `${e.name} ${e.event}`);
    };
    const deadline = Date.now() + 30_000;
    while ((await history()).filter((l) => /^q\d (queued|admitting)$/.test(l)).length < 4) {
      assert.ok(Date.now() < deadline, "the three were never queued");
      await new Promise((r) => setTimeout(r, 100));
    }
    await leader.die();
    const got = await Promise.allSettled(queued);
    for (const g of got) if (g.status === "fulfilled") agents.push(g.value);
    assert.deepEqual(
      got.map((g) => g.status === "fulfilled" ? "in" : String(g.reason)),
      ["in", "in", "in"],
    );
    for (const q of ["q1", "q2", "q3"]) await historyWith(others[0], `${q} admitted`);
    const admitted = (await history()).filter((l) => l.endsWith(" admitted"));
    for (const q of ["q1", "q2", "q3"]) assert.ok(admitted.includes(`${q} admitted`), q);
  } finally {
    for (const a of agents.reverse()) await a[Symbol.asyncDispose]();
  }
});
