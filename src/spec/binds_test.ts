import assert from "node:assert/strict";
import { checkBinds } from "./binds.ts";
import type { Problems } from "./problems.ts";

Deno.test("binds are { source, path, readOnly }; readOnly is stored only when true", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkBinds(
      [
        { source: "/srv/media", path: "/media", readOnly: true },
        { source: "/etc/localtime", path: "/etc/localtime", readOnly: false },
      ],
      "binds",
      out,
    ),
    [
      { source: "/srv/media", path: "/media", readOnly: true },
      { source: "/etc/localtime", path: "/etc/localtime" },
    ],
  );
  assert.deepEqual(out, []);
});

Deno.test("a bind without a source or path, relative, escaping or onto / is refused by path", () => {
  const out: Problems = [];
  assert.deepEqual(
    checkBinds(
      [
        { path: "/media" },
        { source: "./media", path: "/media" },
        { source: "/srv/../root", path: "/" },
        { source: "/srv", path: "/srv", readOnly: "yes", mode: "ro" },
        "/srv:/srv",
      ],
      "binds",
      out,
    ),
    [],
  );
  assert.deepEqual(out.map((p) => p.path), [
    "binds[0].source",
    "binds[1].source",
    "binds[2].source",
    "binds[2].path",
    "binds[3].mode",
    "binds[3].readOnly",
    "binds[4]",
  ]);
  assert.equal(out[0].message, "is missing; give the absolute path on the node, e.g. /srv/media");
  assert.match(out[4].message, /unknown key 'mode'; known keys are source, path, readOnly/);
  assert.equal(
    out[6].message,
    'expected a mapping such as { source: /srv/media, path: /media }, found a string ("/srv:/srv")',
  );
});
