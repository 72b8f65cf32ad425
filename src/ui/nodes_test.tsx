import assert from "node:assert/strict";
import { ApiError } from "../api/errors.ts";
import type { ControlPlane } from "../api/types.ts";
import { signedIn } from "./fixtures.ts";

function controlPlane(calls: string[]): ControlPlane {
  return {
    removeNode: (
      name,
    ) => (calls.push(`rm ${name}`), Promise.resolve({ removed: name, message: "" })),
    leave: () => (calls.push("leave"), Promise.resolve({ left: "pi-a", message: "" })),
    leaveOther: (
      name,
    ) => (calls.push(`leave ${name}`), Promise.resolve({ left: name, message: "" })),
    drain: (
      name,
    ) => (calls.push(`drain ${name}`), Promise.resolve({ node: name, drained: true, message: "" })),
    undrain: (
      name,
    ) => (calls.push(`undrain ${name}`),
      Promise.resolve({ node: name, drained: false, message: "" })),
  };
}

Deno.test("the nodes page has the join line, pending nodes to approve, and the history", async () => {
  const approved: string[] = [];
  const { b } = await signedIn({
    api: {
      joinAddress: () => "192.168.1.10:7440",
      admissionLog: () =>
        Promise.resolve([
          { at: 1, id: "x", name: "pi-new", event: "pending", detail: "no token" },
        ] as never),
      join: () =>
        ({ approve: (name: string) => (approved.push(name), Promise.resolve(name)) }) as never,
    },
  });
  const page = await b.go("/nodes");
  assert.match(page.text_, /fossora agent --join 192\.168\.1\.10:7440 --token j</);
  assert.match(page.text_, /pi-new asks to join/);
  assert.match(page.text_, /<td data-label="What">pending: no token<\/td>/);
  const res = await b.post("/nodes/pi-new/approve");
  assert.equal(res.status, 303);
  assert.deepEqual(approved, ["pi-new"]);
});

Deno.test("drain a node; make this node or another leave after a confirmation", async () => {
  const calls: string[] = [];
  const { b } = await signedIn({ api: { controlPlane: () => controlPlane(calls) } });
  const page = await b.go("/nodes/pi-b");
  assert.match(page.text_, /Drain \(move its services away\)/);
  assert.match(page.text_, /Leave the cluster/);
  assert.equal((await b.post("/nodes/pi-b/drain")).status, 303);
  assert.match((await b.go("/nodes/pi-b/leave")).text_, /Make pi-b leave\?/);
  assert.equal((await b.post("/nodes/pi-b/leave")).status, 303);
  assert.match((await b.go("/nodes/pi-a/leave")).text_, /This page stops answering/);
  await b.post("/nodes/pi-a/leave");
  assert.deepEqual(calls, ["drain pi-b", "leave pi-b", "leave"]);
  assert.equal((await b.go("/nodes/ghost")).status, 404);
});

Deno.test("a refused action shows the API's reason on the node's page", async () => {
  const { b } = await signedIn({
    api: {
      controlPlane: () => ({
        ...controlPlane([]),
        drain: () =>
          Promise.reject(
            new ApiError(409, "nowhere", "pi-b is the only node that can run mc; add a node first"),
          ),
      }),
    },
  });
  await b.go("/nodes/pi-b");
  const res = await b.post("/nodes/pi-b/drain");
  assert.equal(res.status, 409);
  assert.match(res.text_, /role="alert" id="problem">pi-b is the only node that can run mc/);
});

Deno.test("a node's load, memory and disk are said plainly, an overloaded one too", async () => {
  const { b, view } = await signedIn();
  const pib = view.nodeMap.get("n2")!;
  view.nodeMap.set("n2", {
    ...pib,
    capacity: { cpus: 2, memory: 8e9 },
    usage: { load: 2.1, memoryUsed: 3e9, disk: { total: 64e9, free: 20e9 } },
  });
  const page = await b.go("/nodes/pi-b");
  assert.match(page.text_, /<dt>CPU<\/dt><dd>overloaded: load 4\.2 on 2 CPUs<\/dd>/);
  assert.match(page.text_, /<dt>Memory<\/dt><dd>3\.0 GB of 8\.0 GB<\/dd>/);
  assert.match(page.text_, /<dt>Disk<\/dt><dd>44 GB of 64 GB used, 20 GB free<\/dd>/);
});
