import assert from "node:assert/strict";
import type { ContainerOptions, ServiceSpec } from "../state/types.ts";
import type { WantedReplica } from "./labels.ts";
import { checkWanted, problemsOf } from "./validate.ts";

function spec(over: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: "web",
    image: "img:1",
    replicas: 1,
    ports: [{ container: 80, http: true }],
    env: { A: "1" },
    volumes: [{ name: "data", path: "/data" }],
    placement: {},
    ...over,
  };
}

function want(over: Partial<WantedReplica> = {}, s: Partial<ServiceSpec> = {}): WantedReplica {
  return { service: "web", replica: 0, generation: 1, spec: spec(s), ...over };
}

Deno.test("a sound entry has no problems", () => {
  assert.deepEqual(problemsOf(want()), []);
});

Deno.test("what Docker itself judges is left to Docker, not checked twice", () => {
  // src/spec refuses these when a service is applied; Docker gives its own message if one slips by.
  assert.deepEqual(problemsOf(want({ service: "Web_1" })), []);
  assert.deepEqual(problemsOf(want({}, { image: "Not A Ref" })), []);
  assert.deepEqual(problemsOf(want({}, { volumes: [{ name: "Data", path: "rel" }] })), []);
  assert.deepEqual(problemsOf(want({ service: "x".repeat(100) })), []);
});

Deno.test("what would break a Docker call or the loop is refused with a clear reason", () => {
  const cases: [unknown, RegExp][] = [
    [null, /must be an object/],
    [want({ service: "a/b" }), /service "a\/b" must be a name of \[a-zA-Z0-9_.-\]/],
    [want({ service: "-x" }), /service "-x"/],
    [want({ replica: -1 }), /replica must be an integer/],
    [want({ replica: 1e10 }), /replica must be an integer 0\.\.999999999/],
    [want({ generation: 0 }), /generation must be an integer 1\.\./],
    [want({ generation: 1.5 }), /generation must be an integer/],
    [{ ...want(), spec: "x" }, /spec must be an object/],
    [want({}, { image: "" }), /spec\.image must be a non-empty string/],
    [want({}, { command: ["sh", 1 as unknown as string] }), /spec\.command must be a list/],
    [want({}, { ports: [{ container: 0, http: false }] }), /container port 1\.\.65535/],
    [want({}, { ports: [{ container: 65536, http: false }] }), /container port 1\.\.65535/],
    [want({}, { env: { "A=B": "1" } }), /spec\.env: every key/],
    [want({}, { env: { A: 1 as unknown as string } }), /spec\.env: every key/],
    [want({}, { volumes: [{ name: "a/b", path: "/x" }] }), /spec\.volumes/],
    [want({}, { binds: "x" as unknown as [] }), /spec\.binds must be a list of objects/],
    [want({}, { devices: [null as unknown as { host: string }] }), /spec\.devices must be a list/],
    [
      want({}, { container: [] as unknown as ContainerOptions }),
      /spec\.container must be an object/,
    ],
  ];
  for (const [entry, re] of cases) {
    const p = problemsOf(entry);
    assert.equal(p.length, 1, `${JSON.stringify(entry)}: ${p.join("; ")}`);
    assert.match(p[0], re);
  }
});

Deno.test("a list is split per entry: valid ones kept, bad ones set aside with their replica", () => {
  const r = checkWanted([
    want({ replica: 0 }),
    want({ replica: 1 }, { image: "" }),
    "junk",
    want({ service: "a/b", replica: 2 }),
    want({ replica: 3, generation: -4 }),
  ]);
  assert.deepEqual(r.valid.map((w) => w.replica), [0]);
  assert.deepEqual(r.rejected.map((x) => x.index), [1, 2, 3, 4]);
  assert.deepEqual(r.rejected[0].target, { service: "web", replica: 1, generation: 1 });
  assert.equal(r.rejected[1].target, undefined, "junk names no replica");
  assert.equal(r.rejected[2].target, undefined, "a service with '/' cannot name a record");
  assert.deepEqual(r.rejected[3].target, { service: "web", replica: 3, generation: 0 });
  assert.deepEqual(r.duplicates, []);
});

Deno.test("the first valid entry of a replica wins over duplicates and invalid twins", () => {
  const r = checkWanted([
    want({ replica: 0, generation: 1 }),
    want({ replica: 0, generation: 2 }),
    want({ replica: 0 }, { image: "" }),
  ]);
  assert.deepEqual(r.valid.map((w) => w.generation), [1]);
  assert.deepEqual(r.rejected, [], "no error status may hide the running replica");
  assert.equal(r.duplicates.length, 2);
  assert.match(r.duplicates[0], /wanted\[1\]: replica web\/0 is listed twice/);
  assert.match(r.duplicates[1], /wanted\[2\].*invalid \(spec\.image/);
});
