import assert from "node:assert/strict";
import type { NodeRecord, ServiceSpec } from "../state/types.ts";
import { VolumeGroups } from "./shared_volumes.ts";

function spec(name: string, stack: string, shared: string[], own: string[] = []): ServiceSpec {
  return {
    name,
    image: "i",
    replicas: 1,
    ports: [],
    env: {},
    placement: {},
    stack,
    volumes: [
      ...shared.map((v) => ({ name: v, path: `/${v}`, shared: true as const })),
      ...own.map((v) => ({ name: v, path: `/${v}` })),
    ],
  };
}

const n = (id: string) => ({ id, name: id }) as NodeRecord;

Deno.test("services sharing volumes, also through a third one, are one group; other stacks are not", () => {
  const specs = [
    spec("a.s", "s", ["v1"]),
    spec("b.s", "s", ["v1", "v2"]),
    spec("c.s", "s", ["v2"]),
    spec("d.s", "s", [], ["v1"]), // a volume of its own that happens to share the name
    spec("a.t", "t", ["v1"]),
  ];
  const groups = new VolumeGroups(specs);
  const ready = new Map([["n1", n("n1")], ["n2", n("n2")]]);
  const at: Record<string, string> = {
    "a.s": "n1",
    "b.s": "n2",
    "c.s": "n2",
    "d.s": "n2",
    "a.t": "n2",
  };
  const nodeOf = (s: string) => at[s];
  // a.s comes first by name and runs on a ready node: it holds the others.
  assert.equal(groups.anchor(specs[0], nodeOf, ready), undefined);
  assert.deepEqual(groups.anchor(specs[2], nodeOf, ready), {
    service: "a.s",
    node: n("n1"),
    volume: "v2",
  });
  assert.equal(groups.anchor(specs[3], nodeOf, ready), undefined, "not in a group");
  assert.equal(groups.anchor(specs[4], nodeOf, ready), undefined, "alone in its stack");
  // a.s's node is down: b.s, the next one placed, holds the group.
  const without = new Map([["n2", n("n2")]]);
  assert.equal(groups.anchor(specs[1], nodeOf, without), undefined);
  assert.equal(groups.anchor(specs[0], nodeOf, without)?.service, "b.s");
  // None placed: anywhere.
  assert.equal(groups.anchor(specs[1], () => undefined, ready), undefined);
});
