import assert from "node:assert/strict";
import { ApiClient, ApiFailure, detailLines, networkReason } from "./client.ts";
import { CliError } from "./errors.ts";
import { apiError, json, startFakeApi } from "./fake_api.ts";

const token = { source: "--api-token", read: () => Promise.resolve("t0k") };

async function failure(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CliError, String(e));
    return e;
  }
  throw new Error("expected a failure");
}

Deno.test("json sends the bearer token and body, and returns the answer", async () => {
  const api = startFakeApi({ "POST /api/v1/services": () => json({ ok: 1 }) });
  try {
    const client = new ApiClient({ baseUrl: api.url + "/", token });
    const body = { bytes: new Uint8Array([1, 2, 255]), contentType: "application/yaml" };
    assert.deepEqual(await client.json("POST", "/api/v1/services", body), { ok: 1 });
    assert.equal(api.seen[0].path, "/api/v1/services");
    assert.equal(api.seen[0].headers.get("authorization"), "Bearer t0k");
    assert.equal(api.seen[0].headers.get("content-type"), "application/yaml");
    assert.deepEqual([...api.seen[0].body], [1, 2, 255]);
  } finally {
    await api.close();
  }
});

Deno.test("an API error becomes a failure with the API's message and its problems", async () => {
  const api = startFakeApi({
    "POST /api/v1/services": () =>
      apiError(400, "invalid_spec", "the service file has 2 problems", [
        { path: "name", message: "missing" },
        { path: "", message: "bad file" },
      ]),
  });
  try {
    const client = new ApiClient({ baseUrl: api.url, token });
    const e = await failure(client.json("POST", "/api/v1/services"));
    assert.ok(e instanceof ApiFailure);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid_spec");
    assert.equal(e.message, "the service file has 2 problems");
    assert.deepEqual(e.details, ["name: missing", "(file): bad file"]);
  } finally {
    await api.close();
  }
});

Deno.test("a refused token says where the token came from and how to pass another", async () => {
  const api = startFakeApi({ "GET /api/v1/nodes": () => apiError(401, "unauthorized", "no") });
  try {
    const e = await failure(
      new ApiClient({ baseUrl: api.url, token }).json("GET", "/api/v1/nodes"),
    );
    assert.match(e.message, /refused the admin token from --api-token; pass the right one/);
  } finally {
    await api.close();
  }
});

Deno.test("an answer that is not the API's says --api may point elsewhere", async () => {
  const api = startFakeApi({
    "GET /a": () => new Response("<html>", { status: 502 }),
    "GET /b": () => new Response("<html>", { status: 200 }),
  });
  try {
    const client = new ApiClient({ baseUrl: api.url, token });
    for (const path of ["/a", "/b"]) {
      const e = await failure(client.json("GET", path));
      assert.match(e.message, /without an API answer; is --api .* a fossora agent\?/);
    }
  } finally {
    await api.close();
  }
});

Deno.test("an agent that is not running is reported as unreachable with what to check", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const e = await failure(
    new ApiClient({ baseUrl: `http://127.0.0.1:${port}`, token }).json("GET", "/api/v1/nodes"),
  );
  assert.equal(
    e.message,
    `cannot reach the agent at http://127.0.0.1:${port} (connection refused); is \`fossora agent\` ` +
      "running? (systemctl status fossora)",
  );
});

Deno.test("an agent that does not answer in time is reported after the timeout", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const api = startFakeApi({ "GET /slow": async () => (await released, json({})) });
  try {
    const client = new ApiClient({ baseUrl: api.url, token, timeoutMs: 100 });
    const e = await failure(client.json("GET", "/slow"));
    assert.match(
      e.message,
      /did not answer within 100ms; check it with `systemctl status fossora`/,
    );
  } finally {
    release();
    await api.close();
  }
});

Deno.test("stream returns the body as it comes and maps errors like json", async () => {
  const api = startFakeApi({
    "GET /logs": () => new Response("a\nb\n"),
    "GET /missing": () => apiError(404, "not_found", 'no service named "x"'),
  });
  try {
    const client = new ApiClient({ baseUrl: api.url, token });
    assert.equal(await new Response(await client.stream("/logs")).text(), "a\nb\n");
    const e = await failure(client.stream("/missing"));
    assert.equal(e.message, 'no service named "x"');
  } finally {
    await api.close();
  }
});

Deno.test("a failing token source fails before anything is sent", async () => {
  const api = startFakeApi({});
  try {
    const bad = { source: "f", read: () => Promise.reject(new CliError("no admin token")) };
    const e = await failure(new ApiClient({ baseUrl: api.url, token: bad }).json("GET", "/x"));
    assert.equal(e.message, "no admin token");
    assert.equal(api.seen.length, 0);
  } finally {
    await api.close();
  }
});

Deno.test("networkReason shortens Deno's fetch errors", () => {
  const refused = new TypeError(
    "error sending request for url (http://127.0.0.1:1/): client error (Connect): tcp connect " +
      "error: Connection refused (os error 111)",
  );
  assert.equal(networkReason(refused), "connection refused");
  assert.equal(
    networkReason(new TypeError("dns error: failed to lookup address")),
    "unknown host name",
  );
  assert.equal(networkReason(new Error("a: b: something odd")), "something odd");
});

Deno.test("detailLines prints path: message, and other items as JSON", () => {
  assert.deepEqual(detailLines([{ path: "a.b", message: "m" }, 3]), ["a.b: m", "3"]);
  assert.deepEqual(detailLines("nope"), []);
});

Deno.test("an answer marked stale is told once per command, and the answer is still returned", async () => {
  const stale = () =>
    new Response('{"nodes":[]}', { headers: { "fossora-stale": "may be out of date" } });
  const api = startFakeApi({ "GET /api/v1/nodes": stale, "GET /api/v1/services": stale });
  const told: string[] = [];
  try {
    const client = new ApiClient({ baseUrl: api.url, token, stale: (n) => told.push(n) });
    assert.deepEqual(await client.json("GET", "/api/v1/nodes"), { nodes: [] });
    await client.json("GET", "/api/v1/services");
    assert.deepEqual(told, ["may be out of date"]);
  } finally {
    await api.close();
  }
});
