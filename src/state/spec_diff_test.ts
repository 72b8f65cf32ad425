import assert from "node:assert/strict";
import { sameContainers, specChanges } from "./spec_diff.ts";
import type { ServiceSpec } from "./types.ts";

const web: ServiceSpec = {
  name: "web",
  image: "nginx:1.27",
  replicas: 1,
  ports: [{ container: 80, protocol: "http" }],
  environment: { TZ: "Etc/UTC" },
} as unknown as ServiceSpec;

Deno.test("a preview names each changed field with its value before and after", () => {
  const next = {
    ...web,
    image: "nginx:1.28",
    environment: { TZ: "Europe/Paris", NEW: "1" },
  } as ServiceSpec;
  assert.deepEqual(specChanges(web, next), [
    { path: "environment.NEW", after: '"1"' },
    { path: "environment.TZ", before: '"Etc/UTC"', after: '"Europe/Paris"' },
    { path: "image", before: '"nginx:1.27"', after: '"nginx:1.28"' },
  ]);
  assert.equal(sameContainers(web, next), false);
});

Deno.test("scaling changes replicas only, and makes the same containers", () => {
  const next = { ...web, replicas: 3 };
  assert.deepEqual(specChanges(web, next), [{ path: "replicas", before: "1", after: "3" }]);
  assert.equal(sameContainers(web, next), true);
  assert.deepEqual(specChanges(web, { ...web }), []);
});

Deno.test("odd keys are quoted in paths and long values cut", () => {
  const next = { ...web, environment: { "my.var": "x".repeat(200) } } as ServiceSpec;
  const [removed, added] = specChanges(web, next);
  assert.equal(added.path, 'environment["my.var"]');
  assert.equal(added.after!.length, 80);
  assert.equal(removed.path, "environment.TZ");
});
