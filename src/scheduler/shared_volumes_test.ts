import assert from "node:assert/strict";
import type { NodeRecord, ServiceSpec } from "../state/types.ts";
import { type Fits, groupAnchor, groupRejection, VolumeGroups } from "./shared_volumes.ts";

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
  assert.deepEqual(groups.of(specs[2])?.members.map((m) => m.name), ["a.s", "b.s", "c.s"]);
  assert.equal(groups.of(specs[2])?.volume, "v2");
  assert.equal(groups.of(specs[3]), undefined, "not in a group");
  assert.equal(groups.of(specs[4]), undefined, "alone in its stack");
});

Deno.test("a group runs where its first member on a node that suits them all is, else where all may", () => {
  const specs = [spec("a.s", "s", ["v"]), spec("b.s", "s", ["v"]), spec("c.s", "s", ["v"])];
  const group = new VolumeGroups(specs).of(specs[2])!;
  const at: Record<string, NodeRecord> = { "a.s": n("n1"), "b.s": n("n2") };
  const nodeOf = (s: string) => at[s];
  const all: Fits = () => undefined;
  assert.deepEqual(groupAnchor(group, nodeOf, all), { service: "a.s", node: n("n1") });
  assert.equal(groupRejection(specs[2], n("n1"), group, nodeOf, all), undefined);
  assert.equal(
    groupRejection(specs[2], n("n2"), group, nodeOf, all),
    "n2 is not n1, where a.s runs with the volume v they share",
  );
  // c.s may not run on n1: b.s's node, which suits all three, holds the group.
  const notN1ForC: Fits = (s, node) =>
    s.name === "c.s" && node.id === "n1" ? "n1 lacks labels pin=x" : undefined;
  assert.deepEqual(groupAnchor(group, nodeOf, notN1ForC), { service: "b.s", node: n("n2") });
  // Nothing placed: any node where every member may run.
  const none = () => undefined;
  assert.equal(groupAnchor(group, none, all), undefined);
  assert.equal(
    groupRejection(specs[0], n("n1"), group, none, notN1ForC),
    "n1 cannot run c.s, which shares the volume v: n1 lacks labels pin=x",
  );
  assert.equal(groupRejection(specs[0], n("n2"), group, none, notN1ForC), undefined);
});
