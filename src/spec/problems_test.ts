import assert from "node:assert/strict";
import {
  closest,
  describe,
  formatProblem,
  indexPath,
  isMapping,
  keyPath,
  type Problems,
  unknownKeys,
} from "./problems.ts";

Deno.test("keyPath joins plain keys with dots and quotes the others", () => {
  assert.equal(keyPath("", "image"), "image");
  assert.equal(keyPath("services.web", "x-fossora"), "services.web.x-fossora");
  assert.equal(keyPath("services", "my.app"), 'services["my.app"]');
  assert.equal(keyPath("env", "1A"), 'env["1A"]');
  assert.equal(indexPath("", 2), "[2]");
  assert.equal(indexPath("ports", 0), "ports[0]");
});

Deno.test("describe names what the user wrote", () => {
  assert.equal(describe("80"), 'a string ("80")');
  assert.equal(describe("x".repeat(50)), `a string ("${"x".repeat(40)}…")`);
  assert.equal(describe(3), "the number 3");
  assert.equal(describe(1.5), "a number (1.5)");
  assert.equal(describe(false), "a boolean (false)");
  assert.equal(describe(null), "null (an empty value)");
  assert.equal(describe([]), "an empty list");
  assert.equal(describe([1]), "a list");
  assert.equal(describe({}), "a mapping");
  assert.equal(describe(new Uint8Array(2)), "binary data");
  assert.equal(describe(undefined), "nothing");
});

Deno.test("isMapping is true only for plain objects", () => {
  assert.ok(isMapping({ a: 1 }));
  assert.ok(isMapping(Object.create(null)));
  assert.ok(!isMapping([]));
  assert.ok(!isMapping(null));
  assert.ok(!isMapping(new Uint8Array(1)));
  assert.ok(!isMapping(new Map()));
});

Deno.test("unknownKeys suggests a near key and never a far one", () => {
  const out: Problems = [];
  unknownKeys({ imag: 1, zz: 2, image: 3 }, ["image", "name"], "", out);
  assert.deepEqual(out, [
    {
      path: "imag",
      message: "unknown key 'imag' (did you mean 'image'?); known keys are image, name",
    },
    { path: "zz", message: "unknown key 'zz'; known keys are image, name" },
  ]);
  assert.equal(closest("Replica", ["replicas", "ports"]), "replicas");
  assert.equal(closest("os", ["ports", "env"]), undefined);
});

Deno.test("formatProblem prefixes the path unless it is the whole file", () => {
  assert.equal(formatProblem({ path: "a.b", message: "bad" }), "a.b: bad");
  assert.equal(formatProblem({ path: "", message: "bad" }), "bad");
});
