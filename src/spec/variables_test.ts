import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { fillVariables } from "./variables.ts";

const vars: Record<string, string> = { TAG: "v1.2", EMPTY: "", DB: "postgres" };
const lookup = (name: string) => Object.hasOwn(vars, name) ? vars[name] : undefined;

function run(text: string) {
  const problems: Problems = [];
  const warnings: Problems = [];
  const value = fillVariables(text, lookup, "p", problems, warnings);
  return {
    value,
    problems: problems.map((p) => p.message),
    warnings: warnings.map((w) => w.message),
  };
}

Deno.test("variables are filled as docker compose fills them", () => {
  const cases: [string, string][] = [
    [
      "ghcr.io/immich-app/immich-server:${IMMICH_VERSION:-release}",
      "ghcr.io/immich-app/immich-server:release",
    ],
    ["img:${TAG}", "img:v1.2"],
    ["img:$TAG-x", "img:v1.2-x"],
    ["${EMPTY:-d}|${EMPTY-d}|${UNSET-d}", "d||d"],
    ["${TAG:+set}|${EMPTY:+set}|${EMPTY+set}|${UNSET+set}", "set||set|"],
    ["${UNSET:-${DB:-x}}/${UNSET:-a${TAG}b}", "postgres/av1.2b"],
    ["pa$$word $${TAG} 5$ $1", "pa$word ${TAG} 5$ $1"],
    ["${TAG:?must be set}", "v1.2"],
    ["no variables", "no variables"],
  ];
  for (const [text, want] of cases) {
    const r = run(text);
    assert.deepEqual(r, { value: want, problems: [], warnings: [] }, text);
  }
});

Deno.test("an unset variable without a default is empty, with a warning that says where to set it", () => {
  const r = run("${UNSET}/$ALSO_UNSET");
  assert.equal(r.value, "/");
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings[0], /UNSET is not set, so it is empty .*\.env beside the file/);
});

Deno.test("a required variable unset, a bad name, a bad operator or an open ${ are problems", () => {
  assert.match(
    run("${PASSWORD:?give a password}").problems[0],
    /needs the variable PASSWORD set and not empty: give a password/,
  );
  assert.match(run("${EMPTY?x}").problems.join(), /^$/, "EMPTY is set (without :)");
  assert.match(run("${1ABC}").problems[0], /is not a variable/);
  assert.match(run("${TAG/x}").problems[0], /compose takes :- - :\? \? :\+ or \+/);
  const open = run("img:${TAG");
  assert.equal(open.value, undefined);
  assert.match(open.problems[0], /opens \$\{ without a closing \}/);
});

Deno.test("defaults nested without end are refused, not a stack overflow", () => {
  const problems: Problems = [];
  const deep = "${a:-".repeat(3000) + "x" + "}".repeat(3000);
  assert.equal(fillVariables(deep, () => undefined, "p", problems, []), undefined);
  assert.match(problems[0].message, /nests \$\{…\} more than 16 deep/);
  const fine = "${a:-${b:-${c:-ok}}}";
  assert.equal(fillVariables(fine, () => undefined, "p", [], []), "ok");
});
