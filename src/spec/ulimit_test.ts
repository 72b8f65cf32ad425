import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { checkUlimits } from "./ulimit.ts";

Deno.test("ulimits are a mapping (compose's shape) or a list of { name, soft, hard }", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkUlimits(
      { nofile: { soft: 1024, hard: 4096 }, nproc: 512, memlock: { soft: -1, hard: -1 } },
      "u",
      out,
    ),
    [
      { name: "nofile", soft: 1024, hard: 4096 },
      { name: "nproc", soft: 512, hard: 512 },
      { name: "memlock", soft: -1, hard: -1 },
    ],
  );
  assert.deepEqual(checkUlimits([{ name: "core", soft: 0, hard: -1 }], "u", out), [
    { name: "core", soft: 0, hard: -1 },
  ]);
  assert.deepEqual(out, []);
});

Deno.test("unknown names, soft above hard, half a pair and bad numbers are refused", () => {
  const out: Problems = [];
  assert.equal(
    checkUlimits(
      {
        nofiles: 10,
        nproc: { soft: 10, hard: 5 },
        core: { soft: 1 },
        stack: -2,
        rss: { soft: -1, hard: 5 },
      },
      "u",
      out,
    ),
    undefined,
  );
  assert.equal(
    checkUlimits([{ name: "as", soft: 1, hard: 1 }, { name: "as", soft: 2, hard: 2 }], "l", out),
    undefined,
  );
  assert.equal(checkUlimits("nofile=1024", "s", out), undefined);
  assert.deepEqual(out.map((p) => p.path), [
    "u.nofiles",
    "u.nproc.soft",
    "u.core",
    "u.stack",
    "u.rss.soft",
    "l",
    "s",
  ]);
  assert.match(
    out[0].message,
    /^unknown limit 'nofiles' \(did you mean 'nofile'\?\); Docker knows as, core/,
  );
  assert.equal(out[1].message, "soft limit 10 is above the hard limit 5; lower it or raise hard");
  assert.equal(out[2].message, "needs both soft and hard, e.g. { soft: 1024, hard: 4096 }");
  assert.equal(out[3].message, "expected a whole number, or -1 for unlimited, found the number -2");
  assert.equal(out[4].message, "soft limit -1 is above the hard limit 5; lower it or raise hard");
  assert.equal(out[5].message, "limit 'as' is given twice; give it once");
});
