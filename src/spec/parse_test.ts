import assert from "node:assert/strict";
import { decode, isJson, MAX_FILE_BYTES, MAX_PROBLEMS, parseServiceFile } from "./parse.ts";
import { MAX_ALIAS_COUNT } from "./load.ts";

Deno.test("JSON is chosen by content type or file name, YAML otherwise", () => {
  assert.ok(isJson({ contentType: "application/json" }));
  assert.ok(isJson({ contentType: "Application/JSON; charset=utf-8" }));
  assert.ok(isJson({ contentType: "application/vnd.fossora+json" }));
  assert.ok(isJson({ filename: "/tmp/Web.JSON" }));
  assert.ok(!isJson({ contentType: "application/yaml", filename: "a.yaml" }));
  assert.ok(!isJson({}));
});

Deno.test("a file of exactly 1 MiB is read, one byte more is refused", () => {
  const base = "name: a\nimage: b\n#";
  const exact = base + "x".repeat(MAX_FILE_BYTES - base.length);
  assert.equal(typeof decode(exact), "string");
  assert.equal(typeof decode(new TextEncoder().encode(exact)), "string");
  assert.deepEqual(decode(exact + "x"), {
    path: "",
    message: `file is ${
      MAX_FILE_BYTES + 1
    } bytes; the limit is 1 MiB (1048576 bytes): split it into smaller files`,
  });
});

Deno.test("string input is measured in UTF-8 bytes", () => {
  const text = "name: a\nimage: b\n#" + "é".repeat(MAX_FILE_BYTES / 2);
  assert.equal(text.length < MAX_FILE_BYTES, true);
  assert.deepEqual(decode(text), {
    path: "",
    message: `file is ${
      MAX_FILE_BYTES + 18
    } bytes; the limit is 1 MiB (1048576 bytes): split it into smaller files`,
  });
});

Deno.test("a UTF-8 byte order mark is skipped", () => {
  const bytes = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    ...new TextEncoder().encode("name: a\nimage: b\n"),
  ]);
  const result = parseServiceFile(bytes);
  assert.ok(result.ok);
  assert.equal(result.services[0].name, "a");
  const json = parseServiceFile('\uFEFF{"name": "j", "image": "b"}', { filename: "j.json" });
  assert.ok(json.ok, JSON.stringify(json));
});

Deno.test("a stray --- before or after the document is not a second document", () => {
  const result = parseServiceFile("---\nname: a\nimage: b\n---\n");
  assert.ok(result.ok, JSON.stringify(result));
});

Deno.test("a file of only comments is refused", () => {
  assert.deepEqual(parseServiceFile("# nothing here\n"), {
    ok: false,
    problems: [{
      path: "",
      message:
        "file holds only comments; write a service (a mapping with name and image), a list of services, or a docker-compose file with services:",
    }],
  });
});

Deno.test("compose anchors and merge keys within the alias limit work", () => {
  const uses = Array.from({ length: 10 }, (_, i) => `  s${i}:\n    <<: *base\n`).join("");
  const yaml = `x-base: &base\n  image: busybox\n  environment: { TZ: UTC }\nservices:\n${uses}`;
  const result = parseServiceFile(yaml, { stack: "anchors" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.services.length, 10);
  assert.equal(result.services[9].name, "s9.anchors");
  assert.deepEqual(result.services[9].env, { TZ: "UTC" });
  assert.ok(10 < MAX_ALIAS_COUNT);
});

Deno.test("YAML is read as YAML 1.2: yes stays a string, no sexagesimal numbers", () => {
  const result = parseServiceFile("name: a\nimage: b\nenv: { FLAG: yes, T: 1:20 }\n");
  assert.ok(result.ok);
  assert.deepEqual(result.services[0].env, { FLAG: "yes", T: "1:20" });
});

Deno.test("unresolved YAML tags come back as warnings", () => {
  const result = parseServiceFile("name: a\nimage: !custom b\n");
  assert.deepEqual(result, {
    ok: true,
    services: [{
      name: "a",
      image: "b",
      replicas: 1,
      ports: [],
      env: {},
      volumes: [],
      placement: {},
    }],
    warnings: ["YAML warning at line 2, column 8: Unresolved tag: !custom"],
  });
});

Deno.test("an environment variable named __proto__ is kept, not swallowed", () => {
  const result = parseServiceFile('{"name": "a", "image": "b", "env": {"__proto__": "x"}}', {
    filename: "a.json",
  });
  assert.ok(result.ok);
  assert.deepEqual(Object.keys(result.services[0].env), ["__proto__"]);
  assert.equal(Object.getOwnPropertyDescriptor(result.services[0].env, "__proto__")?.value, "x");
});

Deno.test("at most MAX_PROBLEMS problems are returned, the last one counting the rest", () => {
  const list = Array.from({ length: 150 }, () => "- 1").join("\n");
  const result = parseServiceFile(list);
  assert.ok(!result.ok);
  assert.equal(result.problems.length, MAX_PROBLEMS);
  assert.deepEqual(result.problems[MAX_PROBLEMS - 1], {
    path: "",
    message: "and 51 more problems",
  });
  assert.equal(result.problems[98].path, "[98]");
});

Deno.test("a JSON top-level null is refused as the wrong shape", () => {
  const result = parseServiceFile("null", { contentType: "application/json" });
  assert.deepEqual(result, {
    ok: false,
    problems: [{
      path: "",
      message:
        "file holds null (an empty value); expected a service (a mapping with name and image), a list of services, or a docker-compose file with services:",
    }],
  });
});

Deno.test("deep nesting is refused quickly instead of overflowing the parser", () => {
  const deep = "- ".repeat(5000) + "x\n";
  const brackets = "[".repeat(65) + "]".repeat(65);
  const started = performance.now();
  for (
    const [input, options] of [[deep, {}], [brackets, {}], [brackets, {
      filename: "a.json",
    }]] as const
  ) {
    const result = parseServiceFile(input, options);
    assert.ok(!result.ok);
    assert.equal(result.problems.length, 1);
    assert.match(
      result.problems[0].message,
      /^(YAML|JSON) nests more than 64 levels deep; flatten it$/,
    );
  }
  assert.ok(performance.now() - started < 5000);
});

Deno.test("a key written twice is refused in YAML and in JSON", () => {
  assert.deepEqual(parseServiceFile("name: a\nimage: b\nenv: { A: 1, A: 2 }\n"), {
    ok: false,
    problems: [{
      path: "",
      message: "YAML syntax error at line 3, column 14: Map keys must be unique",
    }],
  });
  assert.deepEqual(
    parseServiceFile('{"name": "a",\n "image": "b", "name": "c"}', { filename: "a.json" }),
    {
      ok: false,
      problems: [{ path: "", message: "JSON key written twice at line 2, column 16; keep one" }],
    },
  );
});

Deno.test("a large but legal file is read in reasonable time", () => {
  const list = Array.from({ length: 20000 }, (_, i) => `- {name: s${i}, image: x}`).join("\n");
  const started = performance.now();
  const result = parseServiceFile(list);
  assert.ok(result.ok);
  assert.equal(result.services.length, 20000);
  assert.ok(performance.now() - started < 10000);
});
