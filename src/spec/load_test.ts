import assert from "node:assert/strict";
import { flowDepth, loadJson, loadYaml, MAX_NESTING } from "./load.ts";

Deno.test("flowDepth counts brackets outside quotes and comments", () => {
  assert.equal(flowDepth("a: \"[[[\" # {{{\nb: [{}, ['[']]"), 2);
  assert.equal(flowDepth('a: "\\"[" [1]'), 1);
  assert.equal(flowDepth("]]]] [[x]]"), 2);
  assert.equal(flowDepth("plain"), 0);
});

Deno.test("loadYaml gives the value of one document", () => {
  assert.deepEqual(loadYaml("a: [1, {b: c}]\n"), {
    ok: true,
    value: { a: [1, { b: "c" }] },
    warnings: [],
  });
});

Deno.test("loadYaml reports each syntax error with its line and column", () => {
  assert.deepEqual(loadYaml("a: 1\n  b: 2\nc: [\n"), {
    ok: false,
    problems: [
      {
        path: "",
        message:
          "YAML syntax error at line 1, column 4: Nested mappings are not allowed in compact mappings",
      },
      {
        path: "",
        message: "YAML syntax error at line 1, column 4: Implicit keys need to be on a single line",
      },
      {
        path: "",
        message:
          "YAML syntax error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]",
      },
    ],
  });
});

Deno.test("loadYaml allows merge keys written more than once in a mapping", () => {
  const result = loadYaml("x: &x { a: 1 }\ny: &y { b: 2 }\nz:\n  <<: *x\n  <<: *y\n");
  assert.deepEqual(result.ok && result.value, { x: { a: 1 }, y: { b: 2 }, z: { a: 1, b: 2 } });
});

Deno.test("nesting past the limit is refused before the parser runs", () => {
  const deep = "[".repeat(MAX_NESTING + 1) + "]".repeat(MAX_NESTING + 1);
  const ok = "[".repeat(MAX_NESTING) + "]".repeat(MAX_NESTING);
  assert.equal(loadYaml(ok).ok, true);
  assert.deepEqual(loadYaml(deep), {
    ok: false,
    problems: [{ path: "", message: "YAML nests more than 64 levels deep; flatten it" }],
  });
  assert.equal(loadJson(ok).ok, true);
  assert.deepEqual(loadJson(deep), {
    ok: false,
    problems: [{ path: "", message: "JSON nests more than 64 levels deep; flatten it" }],
  });
});

Deno.test("loadJson finds keys written twice at any depth", () => {
  assert.deepEqual(loadJson('{"a": {"b": 1,\n"b": 2}}'), {
    ok: false,
    problems: [{ path: "", message: "JSON key written twice at line 2, column 1; keep one" }],
  });
  assert.deepEqual(loadJson('[{"b": 1}, {"b": 2}]'), {
    ok: true,
    value: [{ b: 1 }, { b: 2 }],
    warnings: [],
  });
});
