import assert from "node:assert/strict";
import { LocalApiClient, TailscaleError } from "./tailscale.ts";
import { type FakeTailnet, FakeTailscaled, TAGGED_DEVICES } from "./tailscale_fake.ts";
import {
  tailnetCandidates,
  tailnetJoinerTrust,
  tailnetTrust,
  tailscaleAdvertiseAddr,
} from "./tailnet.ts";

// User IDs past 2^53: alice's and bob's parse to the same double, so only exact text tells them
// apart.
const ALICE = { id: 6104512347893214561n, loginName: "alice@example.com", displayName: "Alice" };
const BOB = { id: 6104512347893214562n, loginName: "bob@example.com", displayName: "Bob" };
const TAGGED = { id: 7012345, ...TAGGED_DEVICES };

function tailnet(): FakeTailnet {
  return {
    users: [ALICE, BOB, TAGGED],
    self: { hostName: "nas", ips: ["100.101.1.1", "fd7a:115c:a1e0::1"], user: ALICE.id },
    peers: [
      { hostName: "Laptop", ips: ["100.101.1.2", "fd7a:115c:a1e0::2"], user: ALICE.id },
      { hostName: "pi", ips: ["100.101.1.3"], user: TAGGED.id, tags: ["tag:fossora"] },
      { hostName: "printer", ips: ["100.101.1.4"], user: TAGGED.id, tags: ["tag:printer"] },
      { hostName: "bobs-pc", ips: ["100.101.1.5"], user: BOB.id },
      { hostName: "old-box", ips: ["100.101.1.6"], user: ALICE.id, online: false },
      { hostName: "friend", ips: ["100.101.1.7"], user: BOB.id, shareeNode: true },
    ],
  };
}

async function rejectsWith(
  p: Promise<unknown>,
  code: string,
  text: RegExp,
): Promise<TailscaleError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TailscaleError, `expected a TailscaleError, got ${err}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, text);
    return err;
  }
  assert.fail("expected the call to fail");
}

/** One raw HTTP/1.1 request over the socket, to send headers fetch would not. */
async function rawRequest(socketPath: string, head: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socketPath });
  try {
    await conn.write(new TextEncoder().encode(head));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the server
    }
  }
}

Deno.test("status over the socket reads this node, its peers and their users", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  const status = await client.status();
  assert.equal(status.BackendState, "Running");
  assert.deepEqual(status.TailscaleIPs, ["100.101.1.1", "fd7a:115c:a1e0::1"]);
  assert.equal(status.Self?.HostName, "nas");
  assert.equal(status.Self?.DNSName, "nas.tail4f2a1c.ts.net.");
  assert.equal(status.Self?.UserID, "6104512347893214561");
  assert.equal(status.Peer.size, 6);
  for (const key of status.Peer.keys()) assert.match(key, /^nodekey:[0-9a-f]{64}$/);
  const pi = [...status.Peer.values()].find((p) => p.HostName === "pi");
  assert.deepEqual(pi?.Tags, ["tag:fossora"]);
  assert.equal(pi?.UserID, "7012345");
  const laptop = [...status.Peer.values()].find((p) => p.HostName === "Laptop");
  assert.deepEqual(laptop?.Tags, [], "Tags is absent for an untagged node");
  assert.equal(laptop?.DNSName, "laptop.tail4f2a1c.ts.net.");
  assert.equal(status.User.get("6104512347893214562")?.LoginName, "bob@example.com");
  assert.equal(status.User.get("7012345")?.LoginName, "tagged-devices");
  assert.equal(tailscaleAdvertiseAddr(status), "100.101.1.1");
  // Not old-box (offline), friend (a sharee's machine), nor this node or IPv6 addresses.
  assert.deepEqual(tailnetCandidates(status).sort(), [
    "100.101.1.2",
    "100.101.1.3",
    "100.101.1.4",
    "100.101.1.5",
  ]);
  assert.deepEqual(ts.requests, [
    { method: "GET", pathAndQuery: "/localapi/v0/status", host: "local-tailscaled.sock" },
  ]);
});

Deno.test("status with peers false has no peers but keeps this node's user", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  const status = await client.status({ peers: false });
  assert.equal(status.Peer.size, 0);
  assert.deepEqual([...status.User.keys()], ["6104512347893214561"]);
  assert.equal(ts.requests[0].pathAndQuery, "/localapi/v0/status?peers=false");
});

Deno.test("whois of a machine of this node's owner says so and is trusted", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  const whois = await client.whois("100.101.1.2:51234");
  assert.equal(whois.Node.Name, "laptop.tail4f2a1c.ts.net.");
  assert.equal(whois.Node.Hostinfo.Hostname, "Laptop");
  assert.deepEqual(whois.Node.Tags, []);
  assert.deepEqual(whois.Node.Addresses, ["100.101.1.2/32", "fd7a:115c:a1e0::2/128"]);
  assert.equal(whois.UserProfile.LoginName, "alice@example.com");
  assert.equal(whois.UserProfile.ID, "6104512347893214561");
  const decision = tailnetTrust(whois, await client.status(), "tag:fossora");
  assert.deepEqual(decision, {
    trusted: true,
    why: "laptop.tail4f2a1c.ts.net. belongs to alice@example.com, as this node does",
  });
  // The same machine over IPv6, through the helper admission uses.
  const v6 = await tailnetJoinerTrust(client, { hostname: "fd7a:115c:a1e0::2", port: 443 });
  assert.equal(v6.trusted, true, v6.why);
  assert.ok(
    ts.requests.some((r) => r.pathAndQuery.includes("addr=%5Bfd7a%3A115c%3Aa1e0%3A%3A2%5D%3A443")),
  );
  // As the join desk asks: the peer's address text alone, also IPv4-mapped from a dual-stack
  // listener.
  for (const from of ["100.101.1.2", "::ffff:100.101.1.2", "100.101.1.2:40000"]) {
    const d = await tailnetJoinerTrust(client, from, "tag:fossora");
    assert.equal(d.trusted, true, `${from}: ${d.why}`);
  }
  const mapped = await tailnetJoinerTrust(client, { hostname: "::ffff:100.101.1.2", port: 7 });
  assert.equal(mapped.trusted, true, mapped.why);
  assert.ok(ts.requests.some((r) => r.pathAndQuery === "/localapi/v0/whois?addr=100.101.1.2%3A7"));
});

Deno.test("whois of a tagged machine is trusted by --tailscale-tag only", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  const whois = await client.whois("100.101.1.3:40000");
  assert.deepEqual(whois.Node.Tags, ["tag:fossora"]);
  assert.equal(whois.UserProfile.LoginName, "tagged-devices");
  const self = await client.status({ peers: false });
  assert.deepEqual(tailnetTrust(whois, self, "tag:fossora"), {
    trusted: true,
    why: "pi.tail4f2a1c.ts.net. carries tag:fossora",
  });
  const untagged = tailnetTrust(whois, self);
  assert.equal(untagged.trusted, false);
  assert.match(untagged.why, /tagged machine \(tag:fossora\) and --tailscale-tag is not set/);
  const printer = await tailnetJoinerTrust(
    client,
    { hostname: "100.101.1.4", port: 1 },
    "tag:fossora",
  );
  assert.deepEqual(printer, {
    trusted: false,
    why: "printer.tail4f2a1c.ts.net. is a tagged machine (tag:printer) without tag:fossora",
  });
});

Deno.test("whois of another user's machine is not trusted, though its ID rounds to ours", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  const whois = await client.whois("100.101.1.5:1234");
  assert.equal(whois.UserProfile.ID, "6104512347893214562");
  assert.equal(Number(whois.UserProfile.ID), Number(ALICE.id), "the IDs are one double apart");
  const decision = await tailnetJoinerTrust(client, { hostname: "100.101.1.5", port: 1234 });
  assert.deepEqual(decision, {
    trusted: false,
    why: "bobs-pc.tail4f2a1c.ts.net. belongs to bob@example.com, not to alice@example.com",
  });
});

Deno.test("whois of an address off the tailnet is not_found and not trusted", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  await rejectsWith(
    client.whois("192.168.1.20:5000"),
    "not_found",
    /^192\.168\.1\.20:5000 is not a machine of this tailnet$/,
  );
  const decision = await tailnetJoinerTrust(client, { hostname: "192.168.1.20", port: 5000 });
  assert.equal(decision.trusted, false);
  assert.match(decision.why, /could not say who it is: .* not a machine of this tailnet/);
});

Deno.test("whois refuses an address that is not IP:port before asking tailscaled", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  for (const bad of ["nas:80", "", "100.101.1.2:99999", "1.2.3.4:80&x=1", "[100.101.1.2]:80"]) {
    await rejectsWith(client.whois(bad), "bad_input", /whois needs IP:port/);
  }
  assert.equal(ts.requests.length, 0);
});

Deno.test("the fake answers whois as tailscaled: 400 without addr or with a bad one", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  const missing = await rawRequest(
    ts.socketPath,
    "GET /localapi/v0/whois HTTP/1.1\r\nHost: local-tailscaled.sock\r\nConnection: close\r\n\r\n",
  );
  assert.match(missing, /^HTTP\/1\.1 400 /);
  assert.match(missing, /\r\n\r\nmissing 'addr' parameter\n$/);
  const bad = await rawRequest(
    ts.socketPath,
    "GET /localapi/v0/whois?addr=nas HTTP/1.1\r\nHost: local-tailscaled.sock\r\nConnection: close\r\n\r\n",
  );
  assert.match(bad, /^HTTP\/1\.1 400 /);
  assert.match(bad, /invalid 'addr' parameter\n$/);
});

Deno.test("the fake refuses a foreign Host, an Origin or a Referer with 403, as tailscaled", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  const base = "GET /localapi/v0/status HTTP/1.1\r\nConnection: close\r\n";
  for (
    const extra of [
      "Host: localhost:41112\r\n",
      "Host: local-tailscaled.sock\r\nOrigin: http://evil.example\r\n",
      "Host: local-tailscaled.sock\r\nReferer: http://evil.example/page\r\n",
    ]
  ) {
    const answer = await rawRequest(ts.socketPath, `${base}${extra}\r\n`);
    assert.match(answer, /^HTTP\/1\.1 403 /, extra);
    assert.match(answer, /invalid localapi request\n$/);
  }
  const noHost = await rawRequest(ts.socketPath, `${base}\r\n`);
  assert.match(noHost, /^HTTP\/1\.1 200 /);
  assert.match(noHost, /"BackendState": "Running"/);
});

Deno.test("a 403 from tailscaled says fossora needs access to the socket", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  ts.respondWith = () => new Response("status access denied\n", { status: 403 });
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  await rejectsWith(
    client.status(),
    "forbidden",
    /^tailscaled refused \/localapi\/v0\/status \(403: status access denied\); fossora needs read access to .*tailscaled\.sock: run it as root$/,
  );
});

Deno.test("a node that is not logged in has no address, no peers and says run tailscale up", async () => {
  await using ts = await FakeTailscaled.start({ ...tailnet(), backendState: "NeedsLogin" });
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  const status = await client.status();
  assert.equal(status.BackendState, "NeedsLogin");
  assert.deepEqual(status.TailscaleIPs, []);
  assert.equal(status.Peer.size, 0);
  assert.equal(status.Self?.UserID, "0");
  assert.equal(tailscaleAdvertiseAddr(status), undefined);
  assert.deepEqual(tailnetCandidates(status), []);
  await rejectsWith(
    client.runningStatus(),
    "not_logged_in",
    /^tailscale is not logged in: run tailscale up$/,
  );
  await rejectsWith(client.whois("100.101.1.2:1"), "not_found", /not a machine of this tailnet/);
  const decision = await tailnetJoinerTrust(client, { hostname: "100.101.1.2", port: 1 });
  assert.equal(decision.trusted, false);
});

Deno.test("a missing socket says tailscaled is not running and where it looked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    using client = new LocalApiClient({ socketPath: `${dir}/tailscaled.sock` });
    await rejectsWith(
      client.status(),
      "no_socket",
      new RegExp(`^tailscaled is not running \\(no socket at ${dir}/tailscaled\\.sock\\)`),
    );
    const decision = await tailnetJoinerTrust(client, { hostname: "100.101.1.2", port: 1 });
    assert.equal(decision.trusted, false);
    assert.match(decision.why, /tailscaled is not running/);
    // A socket left behind by a tailscaled that died: a link to it outlives the listener.
    const listener = Deno.listen({ transport: "unix", path: `${dir}/live.sock` });
    await Deno.link(`${dir}/live.sock`, `${dir}/tailscaled.sock`);
    listener.close();
    await rejectsWith(
      client.status(),
      "not_running",
      /^tailscaled is not running \(its socket at .*tailscaled\.sock refuses connections\)/,
    );
    await Deno.remove(`${dir}/tailscaled.sock`);
    await Deno.writeTextFile(`${dir}/tailscaled.sock`, "");
    await rejectsWith(client.status(), "no_socket", /tailscaled\.sock is not a socket/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an answer that is not JSON, or not a status, is a clear error", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath });
  ts.respondWith = () => new Response("<html>hello</html>");
  await rejectsWith(client.status(), "bad_answer", /\/localapi\/v0\/status answer is not JSON/);
  const shapes: [string, RegExp][] = [
    ['{"BackendState": 5}', /BackendState is not a string/],
    ["[1, 2]", /the answer is not an object/],
    ['{"BackendState": "Running", "Self": {"TailscaleIPs": "100.1.2.3"}}', /Self\.TailscaleIPs/],
    ['{"BackendState": "Running", "Peer": {"nodekey:ab": {"Online": "yes"}}}', /Online is not/],
    ['{"BackendState": "Running", "Self": {"UserID": "12"}}', /Self\.UserID is not an integer/],
    ['{"BackendState": "Running", "User": {"1": {"ID": 1.5, "LoginName": "x"}}}', /ID is not/],
  ];
  for (const [body, why] of shapes) {
    ts.respondWith = () => new Response(body);
    await rejectsWith(client.status(), "bad_answer", why);
  }
  ts.respondWith = () => new Response('{"Node": {"ID": 1}, "UserProfile": null}');
  await rejectsWith(client.whois("100.101.1.2:1"), "bad_answer", /whois answer is malformed/);
  // A hostile key cannot reach a prototype: maps are Maps.
  ts.respondWith = () =>
    new Response('{"BackendState": "Running", "Peer": {"__proto__": {"Online": true}}}');
  const status = await client.status();
  assert.equal(status.Peer.get("__proto__")?.Online, true);
  assert.equal(({} as Record<string, unknown>).Online, undefined);
});

Deno.test("an oversized answer is cut off at the limit, declared or streamed", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath, maxBodyBytes: 64 * 1024 });
  ts.respondWith = () => new Response("x".repeat(65 * 1024));
  await rejectsWith(client.status(), "bad_answer", /larger than 65536 bytes/);
  let sent = 0;
  ts.respondWith = () =>
    new Response(
      new ReadableStream({
        pull(c) {
          // Endless unless the client stops reading.
          if (sent > 64 * 1024 * 1024) return c.close();
          sent += 16 * 1024;
          c.enqueue(new Uint8Array(16 * 1024).fill(32));
        },
      }),
    );
  await rejectsWith(client.status(), "bad_answer", /larger than 65536 bytes/);
  assert.ok(sent < 8 * 1024 * 1024, `the fake sent ${sent} bytes before the client stopped`);
  ts.respondWith = undefined;
  assert.equal((await client.status({ peers: false })).BackendState, "Running");
});

Deno.test("a tailscaled that does not answer times out; a caller's abort stops the call", async () => {
  await using ts = await FakeTailscaled.start(tailnet());
  using client = new LocalApiClient({ socketPath: ts.socketPath, timeoutMs: 200 });
  ts.respondWith = () =>
    new Promise((resolve) => {
      ts.closing.addEventListener("abort", () => resolve(new Response("late")));
    });
  const started = performance.now();
  await rejectsWith(client.status(), "timeout", /did not answer within 200 ms/);
  assert.ok(performance.now() - started < 2_000);
  const ctl = new AbortController();
  const call = client.status({ signal: ctl.signal });
  ctl.abort(new Error("shutting down"));
  await assert.rejects(call, /shutting down/);
});

Deno.test("a certificate for this node's MagicDNS name comes as its key and chain, once HTTPS is on", async () => {
  const t = tailnet();
  await using fake = await FakeTailscaled.start(t);
  using client = new LocalApiClient({ socketPath: fake.socketPath });
  const name = "nas.tail4f2a1c.ts.net";
  assert.deepEqual((await client.status({ peers: false })).CertDomains, []);
  await rejectsWith(client.certPair(name), "http", /does not support getting TLS certs/);
  t.https = true;
  assert.deepEqual((await client.status({ peers: false })).CertDomains, [name]);
  const pair = await client.certPair(name, { timeoutMs: 30_000 });
  assert.match(pair.keyPem, /^-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  assert.match(pair.certPem, /^-----BEGIN CERTIFICATE-----/);
  assert.doesNotMatch(pair.certPem, /PRIVATE KEY/);
  await client.certPair(name);
  assert.equal(fake.certsIssued, 1, "tailscaled keeps it");
  await rejectsWith(
    client.certPair("laptop.tail4f2a1c.ts.net"),
    "http",
    /only "nas\.tail4f2a1c\.ts\.net" is permitted/,
  );
  await rejectsWith(client.certPair("../status"), "bad_input", /not a DNS name/);
  assert.equal(
    fake.requests.at(-1)?.pathAndQuery,
    `/localapi/v0/cert/laptop.tail4f2a1c.ts.net?type=pair`,
  );
});

Deno.test("an answer without its key or certificate is refused, naming what is missing", async () => {
  await using fake = await FakeTailscaled.start({ ...tailnet(), https: true });
  fake.respondWith = (req) =>
    new URL(req.url).pathname.startsWith("/localapi/v0/cert/")
      ? new Response("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
      : undefined;
  using client = new LocalApiClient({ socketPath: fake.socketPath });
  await rejectsWith(client.certPair("nas.tail4f2a1c.ts.net"), "bad_answer", /lacks its key/);
});
