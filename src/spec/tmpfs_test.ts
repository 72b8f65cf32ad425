import assert from "node:assert/strict";
import type { Problems } from "./problems.ts";
import { checkTmpfs, parseMode, parseTmpfs } from "./tmpfs.ts";

Deno.test("tmpfs mounts are paths or { path, size, mode } with the mode in octal digits", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkTmpfs(
      ["/run", { path: "/cache", size: "64m", mode: "1777" }, "/tmp:size=1g,mode=0700"],
      "t",
      out,
    ),
    [
      { path: "/run" },
      { path: "/cache", size: 64 * 1024 ** 2, mode: 0o1777 },
      { path: "/tmp", size: 1024 ** 3, mode: 0o700 },
    ],
  );
  assert.deepEqual(out, []);
  assert.equal(parseMode("0o755"), 0o755);
  assert.equal(parseMode("8"), undefined);
});

Deno.test("a tmpfs with a numeric mode, a bad size, an unknown option or no path is refused", () => {
  const out: Problems = [];
  checkTmpfs(
    [
      { path: "/a", mode: 1777 },
      { path: "/b", size: "lots" },
      "/c:uid=1000",
      { size: "1m" },
      "run",
    ],
    "t",
    out,
  );
  checkTmpfs("/run", "s", out);
  assert.deepEqual(out, [
    {
      path: "t[0].mode",
      message: 'expected octal digits in quotes, e.g. mode: "1777", found the number 1777',
    },
    {
      path: "t[1].size",
      message:
        'expected a tmpfs size such as 64m, 1g or a number of bytes, found a string ("lots")',
    },
    {
      path: "t[2]",
      message:
        "tmpfs option 'uid=1000' is not size=SIZE or mode=OCTAL; write e.g. /c:size=64m,mode=1777",
    },
    { path: "t[3].path", message: "is missing; give the mount point, e.g. /run" },
    {
      path: "t[4]",
      message:
        "'run' is not an absolute path; write the full path inside the container, e.g. /media",
    },
    {
      path: "s",
      message:
        'expected a list such as [/run, { path: /cache, size: 64m }], found a string ("/run")',
    },
  ]);
  assert.deepEqual(parseTmpfs("/x:mode=9"), {
    problem:
      "tmpfs option 'mode=9' is not size=SIZE or mode=OCTAL; write e.g. /x:size=64m,mode=1777",
  });
});
