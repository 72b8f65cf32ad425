import assert from "node:assert/strict";
import { parseServiceFile } from "./mod.ts";
import { checkHealthcheck, parseDuration } from "./healthcheck.ts";
import type { Problem } from "./problems.ts";

Deno.test("Go durations are read in milliseconds, and anything else is not one", () => {
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1.5h"), 5_400_000);
  assert.equal(parseDuration("0s"), 0);
  for (const bad of ["", "30", "s", "30 s", "1m30", "-5s", "5sec", "1d"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

Deno.test("a compose healthcheck becomes the service's, $$ undone and keys renamed", () => {
  const file = `services:
  db:
    image: postgres:16
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U $$POSTGRES_USER"]
      interval: 10s
      timeout: 5s
      start_period: 1m
      retries: 5
  cache:
    image: redis:7
    healthcheck:
      test: redis-cli ping
  plain:
    image: nginx
    healthcheck:
      disable: true
`;
  const result = parseServiceFile(file, { filename: "compose.yaml", stack: "app" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.services.map((s) => s.healthcheck), [
    {
      test: ["CMD-SHELL", "pg_isready -U $POSTGRES_USER"],
      interval: "10s",
      timeout: "5s",
      startPeriod: "1m",
      retries: 5,
    },
    { test: ["CMD-SHELL", "redis-cli ping"] },
    { test: ["NONE"] },
  ]);
});

Deno.test("a service read back from the API deploys unchanged, its healthcheck included", () => {
  const spec = {
    name: "web",
    image: "nginx",
    healthcheck: { test: ["CMD", "curl", "-f", "http://localhost/"], startPeriod: "30s" },
  };
  const result = parseServiceFile(JSON.stringify(spec), { contentType: "application/json" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.services[0].healthcheck, spec.healthcheck);
});

Deno.test("every mistake in a healthcheck is named by its path, with what to write", () => {
  const cases: [unknown, string[]][] = [
    ["curl localhost", ["hc: expected a mapping such as"]],
    [{ interval: "10s" }, ["hc.test: is missing; give the command"]],
    [{ test: [] }, ["hc.test: expected a list such as"]],
    [{ test: ["curl", "-f"] }, [
      'hc.test: starts with "curl"; start it with CMD, CMD-SHELL or NONE',
    ]],
    [{ test: ["CMD"] }, ["hc.test: CMD needs the program to run after it"]],
    [{ test: ["CMD-SHELL", "a", "b"] }, ["hc.test: CMD-SHELL takes exactly one command string"]],
    [{ test: ["CMD", 5] }, ["hc.test[1]: expected a string, found the number 5"]],
    [{ test: "  " }, ["hc.test: is empty"]],
    [{ test: "x", interval: "10" }, ["hc.interval: expected a duration such as 30s"]],
    [{ test: "x", timeout: 5 }, ["hc.timeout: expected a duration such as 30s"]],
    [{ test: "x", retries: -1 }, ["hc.retries: expected an integer from 0 to 1000"]],
    [{ test: "x", disable: "yes" }, ["hc.disable: expected true or false"]],
    [{ test: "x", disable: true }, ["hc.test: is given with disable: true; keep one"]],
    [{ test: "x", start_period: "5s" }, ["hc.start_period: unknown key 'start_period'"]],
  ];
  for (const [value, messages] of cases) {
    const out: Problem[] = [];
    assert.equal(checkHealthcheck(value, "hc", out, "fossora"), undefined, JSON.stringify(value));
    const got = out.map((p) => `${p.path}: ${p.message}`);
    assert.equal(got.length, messages.length, got.join("\n"));
    messages.forEach((m, i) => assert.ok(got[i].startsWith(m), `${got[i]}\nwanted ${m}`));
  }
});

Deno.test("compose's start_interval is ignored with a warning, as Docker before 25 ignores it", () => {
  const file = "services:\n  db:\n    image: postgres\n    healthcheck:\n" +
    '      test: ["CMD", "true"]\n      interval: 5s\n      start_interval: 1s\n';
  const result = parseServiceFile(file, { stack: "s" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.services[0].healthcheck, { test: ["CMD", "true"], interval: "5s" });
  assert.ok(
    result.warnings.some((w) => w.startsWith("services.db.healthcheck.start_interval: is ignored")),
    result.warnings.join("\n"),
  );
  const out: Problem[] = [];
  checkHealthcheck({ test: "x", start_interval: "1s" }, "hc", out, "fossora");
  assert.deepEqual(out.map((p) => p.path), ["hc.start_interval"]);
});

Deno.test("compose variables in a healthcheck are filled like everywhere in compose", () => {
  const file = "services:\n  db:\n    image: postgres\n    healthcheck:\n" +
    '      test: ["CMD-SHELL", "pg_isready -U ${POSTGRES_USER} -d $$DB"]\n';
  const result = parseServiceFile(file, {
    filename: "compose.yaml",
    stack: "app",
    variables: { POSTGRES_USER: "immich" },
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.services[0].healthcheck, {
    test: ["CMD-SHELL", "pg_isready -U immich -d $DB"],
  });
});

Deno.test("a compose healthcheck with only disable: false keeps the image's own check", () => {
  // Immich writes this for its server; Docker then runs the image's HEALTHCHECK.
  const file = "services:\n  server:\n    image: x\n    healthcheck:\n      disable: false\n";
  const result = parseServiceFile(file, { stack: "app" });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.services[0].healthcheck, undefined);
});
