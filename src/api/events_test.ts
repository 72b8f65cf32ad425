import assert from "node:assert/strict";
import { makeEvent } from "../state/events.ts";
import { createApi } from "./app.ts";
import { sampleView, testDeps } from "./fixtures.ts";
import type { ControlPlane, DrainAnswer } from "./types.ts";

const AUTH = { authorization: "Bearer t" };

function moved(service: string, ms: number) {
  return makeEvent({
    kind: "moved",
    service,
    replica: 0,
    from: "pi-b",
    to: "pi-a",
    message: `replica 0 moved from pi-b to pi-a: pi-b went down`,
  }, new Date(ms));
}

Deno.test("GET /api/v1/events lists events newest first, by service, up to a limit", async () => {
  const view = sampleView();
  const events = [moved("whoami", 1000), moved("mc", 2000), moved("whoami", 3000)];
  for (const e of events) view.eventMap.set(e.id, e);
  const app = createApi(testDeps(view));
  const all = await (await app.request("/api/v1/events", { headers: AUTH })).json();
  assert.deepEqual(all.events.map((e: { id: string }) => e.id), [
    events[2].id,
    events[1].id,
    events[0].id,
  ]);
  const one = await (await app.request("/api/v1/events?service=whoami&limit=1", {
    headers: AUTH,
  })).json();
  assert.deepEqual(one.events.map((e: { id: string }) => e.id), [events[2].id]);
  const ghost = await app.request("/api/v1/events?service=ghost", { headers: AUTH });
  assert.equal(ghost.status, 404);
  await ghost.body?.cancel();
  const bad = await app.request("/api/v1/events?limit=lots", { headers: AUTH });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("GET /api/v1/events?follow=1 sends what is there, then each new event, until the client goes", async () => {
  const view = sampleView();
  const first = moved("whoami", 1000);
  view.eventMap.set(first.id, first);
  const app = createApi(testDeps(view));
  const client = new AbortController();
  const res = await app.request("/api/v1/events?follow=1", {
    headers: AUTH,
    signal: client.signal,
  });
  assert.equal(res.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const lines = async (n: number) => {
    while (text.split("\n").length <= n) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    return text.split("\n").slice(0, n).map((l) => JSON.parse(l).id);
  };
  assert.deepEqual(await lines(1), [first.id]);
  const later = moved("mc", 2000);
  view.eventMap.set(later.id, later);
  assert.deepEqual(await lines(2), [first.id, later.id]);
  client.abort();
  await reader.cancel().catch(() => {});
});

Deno.test("a service's detail carries its events, and nodes say whether drained and how many replicas", async () => {
  const view = sampleView();
  const e = moved("whoami", 1000);
  view.eventMap.set(e.id, e);
  view.drainMap.set("n2", { node: "n2", since: new Date(0).toISOString() });
  const app = createApi(testDeps(view));
  const svc = await (await app.request("/api/v1/services/whoami", { headers: AUTH })).json();
  assert.deepEqual(svc.events.map((x: { message: string }) => x.message), [e.message]);
  const { nodes } = await (await app.request("/api/v1/nodes", { headers: AUTH })).json();
  assert.deepEqual(
    nodes.map((n: { name: string; drained: boolean; replicas: number }) => [
      n.name,
      n.drained,
      n.replicas,
    ]),
    [["pi-a", false, 1], ["pi-b", true, 2]],
  );
});

Deno.test("drain and undrain go to the control plane and answer what it says", async () => {
  const calls: string[] = [];
  const answer = (node: string, drained: boolean): Promise<DrainAnswer> =>
    Promise.resolve({ node, drained, message: `${node} ${drained}` });
  const plane: ControlPlane = {
    removeNode: () => Promise.reject(new Error("not here")),
    leave: () => (calls.push("leave"), Promise.resolve({ left: "pi-a", message: "" })),
    leaveOther: (
      name,
    ) => (calls.push(`leave ${name}`), Promise.resolve({ left: name, message: "" })),
    drain: (name) => (calls.push(`drain ${name}`), answer(name, true)),
    undrain: (name) => (calls.push(`undrain ${name}`), answer(name, false)),
  };
  const app = createApi(testDeps(sampleView(), { controlPlane: () => plane }));
  const d = await app.request("/api/v1/nodes/pi-b/drain", { method: "POST", headers: AUTH });
  assert.deepEqual(await d.json(), { node: "pi-b", drained: true, message: "pi-b true" });
  const u = await app.request("/api/v1/nodes/pi-b/undrain", { method: "POST", headers: AUTH });
  assert.equal((await u.json()).drained, false);
  assert.deepEqual(calls, ["drain pi-b", "undrain pi-b"]);
  const anon = await app.request("/api/v1/nodes/pi-b/drain", { method: "POST" });
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
});
Deno.test("a node asked to leave by name is this node, or is asked over the peers' API", async () => {
  const calls: string[] = [];
  const plane = {
    removeNode: () => Promise.reject(new Error("not here")),
    leave: () => (calls.push("leave"), Promise.resolve({ left: "pi-a", message: "" })),
    leaveOther: (
      name: string,
    ) => (calls.push(`leave ${name}`), Promise.resolve({ left: name, message: "" })),
    drain: () => Promise.reject(new Error("not here")),
    undrain: () => Promise.reject(new Error("not here")),
  };
  const app = createApi(testDeps(sampleView(), { controlPlane: () => plane }));
  for (const name of ["pi-a", "pi-b"]) {
    const res = await app.request(`/api/v1/nodes/${name}/leave`, { method: "POST", headers: AUTH });
    assert.equal((await res.json()).left, name);
  }
  assert.deepEqual(calls, ["leave", "leave pi-b"]);
  // The peer token is taken for a leave, as another node forwards one.
  const peer = createApi(
    testDeps(sampleView(), { controlPlane: () => plane, peerToken: () => "p" }),
  );
  const res = await peer.request("/api/v1/leave", {
    method: "POST",
    headers: { authorization: "Bearer p" },
  });
  assert.equal(res.status, 200);
  const other = await peer.request("/api/v1/services", { headers: { authorization: "Bearer p" } });
  assert.equal(other.status, 401, "and on nothing else than logs and leave");
});

Deno.test("the peer token opens a replica's logs and nothing else; local=1 reads only this node's", async () => {
  const asked: string[] = [];
  const peer: { token?: string } = {};
  const app = createApi(testDeps(sampleView(), {
    peerToken: () => peer.token,
    logs: (service, replica, node, opts) => {
      asked.push(`${service}/${replica}@${node}${opts.local ? " local" : ""}`);
      return Promise.resolve(ReadableStream.from([new TextEncoder().encode("a line\n")]));
    },
  }));
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  // No peer token yet: an empty one opens nothing.
  const before = await app.request("/api/v1/services/whoami/logs", { headers: as("") });
  assert.equal(before.status, 401);
  await before.body?.cancel();
  peer.token = "peer-secret";
  const logs = await app.request("/api/v1/services/whoami/logs?local=1", {
    headers: as("peer-secret"),
  });
  assert.equal(logs.status, 200);
  assert.equal(await logs.text(), "a line\n");
  // whoami runs on n1 (this node) and n2: asked locally, only n1's replica is read.
  assert.deepEqual(asked, ["whoami/0@n1 local"]);
  for (const path of ["/api/v1/services", "/api/v1/token", "/api/v1/nodes/pi-b/drain"]) {
    const res = await app.request(path, { method: "GET", headers: as("peer-secret") });
    assert.equal(res.status, 401, path);
    await res.body?.cancel();
  }
});
