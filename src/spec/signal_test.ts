import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { checkSignal, parseSignal } from "./signal.ts";

Deno.test("signals are names with or without SIG, in any case, or numbers", () => {
  assert.equal(parseSignal("SIGTERM"), "SIGTERM");
  assert.equal(parseSignal("TERM"), "SIGTERM");
  assert.equal(parseSignal("sigint"), "SIGINT");
  assert.equal(parseSignal("SIGQUIT"), "SIGQUIT");
  assert.equal(parseSignal(15), "15");
  assert.equal(parseSignal("9"), "9");
  assert.equal(parseSignal("SIGRTMIN+3"), "SIGRTMIN+3");
  assert.equal(parseSignal("RTMAX-2"), "SIGRTMAX-2");
  for (const bad of ["SIGFOO", "", "0", 0, 65, 1.5, "SIGRTMIN-1", "SIGRTMIN+16", "SIG", null]) {
    assert.equal(parseSignal(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("a bad stop signal says what a signal looks like", () => {
  const out: Problems = [];
  assert.equal(checkSignal("SIGSTOPP", "stopSignal", out), undefined);
  assert.deepEqual(out, [{
    path: "stopSignal",
    message: "expected a signal such as SIGTERM, SIGINT, SIGQUIT (the SIG is optional) or its " +
      'number 1-64, found a string ("SIGSTOPP")',
  }]);
});
