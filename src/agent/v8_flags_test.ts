import assert from "node:assert/strict";
import { AGENT_V8_FLAGS, ensureAgentV8Flags, withAgentFlags } from "./v8_flags.ts";

Deno.test("the agent's flags are added, and heap sizes the user set are kept", () => {
  assert.equal(withAgentFlags(undefined), AGENT_V8_FLAGS);
  assert.equal(withAgentFlags(""), AGENT_V8_FLAGS);
  assert.equal(withAgentFlags(AGENT_V8_FLAGS), undefined, "nothing to add: no re-exec");
  assert.equal(
    withAgentFlags("--max-old-space-size=300"),
    "--max-old-space-size=300,--max-semi-space-size=4,--single-threaded-gc",
  );
  assert.equal(
    withAgentFlags("--max_semi_space_size=4,--max-old-space-size=64,--trace-gc"),
    "--max_semi_space_size=4,--max-old-space-size=64,--trace-gc,--single-threaded-gc",
  );
  assert.equal(
    withAgentFlags("--max_semi_space_size=4,--single_threaded_gc,--max-old-space-size=64"),
    undefined,
  );
});

Deno.test("without the flags the process re-executes itself with the same argv", () => {
  const calls: { path: string; argv: string[]; env: Record<string, string> }[] = [];
  const why = ensureAgentV8Flags({
    env: () => undefined,
    envAll: () => ({ HOME: "/root" }),
    cmdline: () => ["deno", "run", "-A", "src/main.ts", "agent", "--http-port", "8080"],
    execve: (path, argv, env) => (calls.push({ path, argv, env }), "failed on purpose"),
  });
  assert.equal(why, "failed on purpose", "a failed exec says why and the agent goes on");
  assert.deepEqual(calls, [{
    path: "/proc/self/exe",
    argv: ["deno", "run", "-A", "src/main.ts", "agent", "--http-port", "8080"],
    env: { HOME: "/root", DENO_V8_FLAGS: AGENT_V8_FLAGS },
  }]);
  assert.equal(
    ensureAgentV8Flags({
      env: () => AGENT_V8_FLAGS,
      envAll: () => ({}),
      cmdline: () => assert.fail("no re-exec needed"),
      execve: () => assert.fail("no re-exec needed"),
    }),
    undefined,
  );
});

Deno.test("a real process started without the flags runs with them, under the same pid", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/probe.ts`;
    await Deno.writeTextFile(
      script,
      `import { ensureAgentV8Flags } from ${
        JSON.stringify(new URL("./v8_flags.ts", import.meta.url).href)
      };
console.log("pid " + Deno.pid + " flags " + (Deno.env.get("DENO_V8_FLAGS") ?? "none"));
const why = ensureAgentV8Flags();
console.log("after " + (why ?? "ok"));`,
    );
    const env = Deno.env.toObject();
    delete env.DENO_V8_FLAGS;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, "extra-arg"],
      env,
      clearEnv: true,
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(lines.length, 3, lines.join("\n"));
    const [first, second] = lines.map((l) => l.split(" "));
    assert.equal(first[3], "none");
    assert.equal(second[3], AGENT_V8_FLAGS);
    assert.equal(first[1], second[1], "the same pid");
    assert.equal(lines[2], "after ok");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
