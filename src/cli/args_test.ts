import assert from "node:assert/strict";
import { parseArgs } from "./args.ts";
import { UsageError } from "./errors.ts";

function usageError(argv: string[], message: RegExp, command?: string) {
  assert.throws(() => parseArgs(argv), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, message);
    assert.equal(e.command, command);
    return true;
  }, argv.join(" "));
}

Deno.test("parseArgs reads a command with its argument and global flags anywhere", () => {
  const a = parseArgs(["--api", "http://10.0.0.5:7440", "deploy", "web.yaml", "--json"]);
  assert.equal(a.command, "deploy");
  assert.deepEqual(a.positionals, ["web.yaml"]);
  assert.equal(a.api, "http://10.0.0.5:7440");
  assert.equal(a.json, true);
  const b = parseArgs(["nodes", "--api-token=abc", "--data-dir", "/d", "--debug"]);
  assert.equal(b.apiToken, "abc");
  assert.equal(b.dataDir, "/d");
  assert.equal(b.debug, true);
});

Deno.test("parseArgs reads the logs flags", () => {
  const a = parseArgs(["logs", "web", "-f", "--tail", "20", "--replica=1"]);
  assert.deepEqual([a.command, a.positionals, a.follow, a.tail, a.replica], [
    "logs",
    ["web"],
    true,
    20,
    1,
  ]);
});

Deno.test("parseArgs takes - as an argument and -- as the end of flags", () => {
  assert.deepEqual(parseArgs(["deploy", "-"]).positionals, ["-"]);
  assert.deepEqual(parseArgs(["rm", "--", "--odd"]).positionals, ["--odd"]);
});

Deno.test("parseArgs reads help and version in every spelling", () => {
  assert.equal(parseArgs(["--help"]).help, true);
  assert.equal(parseArgs(["-h"]).help, true);
  assert.equal(parseArgs(["help"]).help, true);
  const h = parseArgs(["help", "deploy"]);
  assert.deepEqual([h.help, h.command], [true, "deploy"]);
  const d = parseArgs(["deploy", "--help"]);
  assert.deepEqual([d.help, d.command], [true, "deploy"]);
  assert.equal(parseArgs(["--version"]).version, true);
  assert.equal(parseArgs([]).command, undefined);
});

Deno.test("parseArgs refuses bad arguments with a usage error naming the problem", () => {
  usageError(["frobnicate"], /unknown command "frobnicate"/);
  usageError(["agent"], /entry point/);
  usageError(["deploy"], /missing FILE/, "deploy");
  usageError(["rm"], /missing NAME/, "rm");
  usageError(["rm", "a", "b"], /unexpected argument "b"/, "rm");
  usageError(["nodes", "extra"], /unexpected argument "extra"/, "nodes");
  usageError(["nodes", "--bogus"], /unknown flag --bogus/, "nodes");
  usageError(["-x"], /unknown flag -x/);
  usageError(["nodes", "--api"], /--api needs a value/, "nodes");
  usageError(["nodes", "--json=yes"], /--json takes no value/, "nodes");
  usageError(["nodes", "-f"], /-f is a flag of `fossora logs`/, "nodes");
  usageError(["logs", "web", "--tail", "many"], /--tail takes a whole number/, "logs");
  usageError(["logs", "web", "--tail", "-1"], /--tail takes a whole number/, "logs");
  usageError(["nodes", "--api", "localhost:7440"], /--api must be an http/, "nodes");
  usageError(["nodes", "--api", "ftp://x"], /--api must be an http/, "nodes");
});
