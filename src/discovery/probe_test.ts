import assert from "node:assert/strict";
import { type HealthProbe, httpHealthProbe, probeFossora, readHealth } from "./probe.ts";
import { freePort } from "../../test/helpers/ports.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("a health answer counts only in fossora's shape and agreeing with its status", () => {
  assert.deepEqual(readHealth(bytes('{"ready":true,"node":"nas"}'), 200), {
    node: "nas",
    ready: true,
  });
  assert.deepEqual(readHealth(bytes('{"ready":false,"node":"pi-2","x":1}'), 503), {
    node: "pi-2",
    ready: false,
  });
  for (
    const [body, status] of [
      ['{"ready":true,"node":"nas"}', 503],
      ['{"ready":false,"node":"nas"}', 200],
      ['{"ready":"yes","node":"nas"}', 200],
      ['{"ready":true,"node":"NAS!"}', 200],
      ['{"ready":true,"node":""}', 200],
      ['{"ready":true}', 200],
      ['[{"ready":true,"node":"nas"}]', 200],
      ["null", 200],
      ["<html>router login</html>", 200],
    ] as const
  ) {
    assert.equal(readHealth(bytes(body), status), undefined, `${status} ${body}`);
  }
  assert.equal(readHealth(new Uint8Array([0x7b, 0xff, 0x7d]), 200), undefined, "not UTF-8");
});

Deno.test("probing keeps the given order and runs at most `concurrency` probes at once", async () => {
  let running = 0;
  let most = 0;
  const probe: HealthProbe = async (address) => {
    running++;
    most = Math.max(most, running);
    // Later addresses answer first, so order cannot come from timing.
    await new Promise((r) => setTimeout(r, 40 - Number(address.split(".")[3]) * 3));
    running--;
    return address.endsWith("3") ? undefined : { node: `n${address.split(".")[3]}`, ready: true };
  };
  const addresses = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"];
  const found = await probeFossora(addresses, 7440, probe, { concurrency: 2 });
  assert.deepEqual(found.map((f) => f.address), [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.4",
    "10.0.0.5",
    "10.0.0.6",
  ]);
  assert.deepEqual(found[0], { address: "10.0.0.1", node: "n1", ready: true });
  assert.equal(most, 2);
  assert.deepEqual(await probeFossora([], 7440, probe), []);
});

Deno.test("a probe that ignores its signal is still cut at the deadline", async () => {
  const pending: (() => void)[] = [];
  const deaf: HealthProbe = () =>
    new Promise((resolve) => pending.push(() => resolve({ node: "late", ready: true })));
  const started = performance.now();
  const found = await probeFossora(["10.0.0.1", "10.0.0.2"], 7440, deaf, { timeoutMs: 50 });
  assert.deepEqual(found, []);
  assert.ok(performance.now() - started < 1_000);
  for (const release of pending) release();
});

Deno.test("stopping the search rejects with the reason and starts no more probes", async () => {
  const ctl = new AbortController();
  const asked: string[] = [];
  const probe: HealthProbe = (address, _port, signal) => {
    asked.push(address);
    if (asked.length === 2) ctl.abort(new Error("agent stopping"));
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
  await assert.rejects(
    probeFossora(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], 7440, probe, {
      concurrency: 2,
      signal: ctl.signal,
    }),
    /agent stopping/,
  );
  assert.deepEqual(asked, ["10.0.0.1", "10.0.0.2"]);
  await assert.rejects(
    probeFossora(["10.0.0.1"], 7440, probe, { signal: ctl.signal }),
    /agent stopping/,
  );
});

Deno.test("probe options out of range are refused up front", async () => {
  const probe: HealthProbe = () => Promise.resolve(undefined);
  await assert.rejects(probeFossora(["10.0.0.1"], 0, probe), /apiPort must be a port number/);
  await assert.rejects(probeFossora(["10.0.0.1"], 70000, probe), /apiPort/);
  await assert.rejects(
    probeFossora(["10.0.0.1"], 7440, probe, { concurrency: 0 }),
    /concurrency must be a positive integer/,
  );
  await assert.rejects(
    probeFossora(["10.0.0.1"], 7440, probe, { timeoutMs: -1 }),
    /timeoutMs must be a positive number/,
  );
});

Deno.test("over real sockets only fossora agents are found: not another server, a closed or hung port, a huge body or a redirect", async () => {
  // One port on four loopback addresses: probing uses one API port for every address.
  const port = freePort();
  const ready = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    () => Response.json({ ready: true, node: "nas" }),
  );
  const starting = Deno.serve(
    { hostname: "127.0.0.5", port, onListen: () => {} },
    () => Response.json({ ready: false, node: "pi" }, { status: 503 }),
  );
  const other = Deno.serve(
    { hostname: "127.0.0.2", port, onListen: () => {} },
    () => Response.json({ status: "ok" }),
  );
  // Hostile: a huge body that starts like fossora's, and a redirect to a fossora agent.
  const huge = Deno.serve(
    { hostname: "127.0.0.6", port, onListen: () => {} },
    () => new Response(`{"ready":true,"node":"big","pad":"${"x".repeat(1024 * 1024)}"}`),
  );
  const redirect = Deno.serve(
    { hostname: "127.0.0.7", port, onListen: () => {} },
    () => Response.redirect(`http://127.0.0.1:${port}/api/v1/health`, 302),
  );
  // 127.0.0.3: nothing listens. 127.0.0.4: accepts and never answers.
  const hung = Deno.listen({ hostname: "127.0.0.4", port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of hung) held.push(conn);
  })();
  try {
    const started = performance.now();
    const found = await probeFossora(
      ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"],
      port,
      httpHealthProbe,
      { timeoutMs: 500, concurrency: 7 },
    );
    const took = performance.now() - started;
    assert.deepEqual(found, [
      { address: "127.0.0.1", node: "nas", ready: true },
      { address: "127.0.0.5", node: "pi", ready: false },
    ]);
    assert.ok(held.length >= 1, "the hung server was asked");
    assert.ok(took >= 450 && took < 3_000, `took ${took} ms`);
  } finally {
    hung.close();
    await accepting.catch(() => {});
    for (const c of held) {
      try {
        c.close();
      } catch {
        // closed by the prober
      }
    }
    await Promise.all([ready, starting, other, huge, redirect].map((s) => s.shutdown()));
  }
});
