import assert from "node:assert/strict";
import { checkAbsolutePath } from "./host_path.ts";
import type { Problems } from "./problems.ts";

Deno.test("paths are absolute, without '..' or control characters; a mount point is not /", () => {
  const out: Problems = [];
  assert.equal(checkAbsolutePath("/srv/media", "a", out, "node"), "/srv/media");
  assert.equal(checkAbsolutePath("/", "a", out, "node"), "/");
  assert.equal(checkAbsolutePath("/srv/..data", "a", out, "node"), "/srv/..data");
  assert.equal(out.length, 0);
  checkAbsolutePath("srv/media", "b", out, "node");
  checkAbsolutePath("/srv/../etc", "c", out, "node");
  checkAbsolutePath("/media\n", "d", out, "container");
  checkAbsolutePath("/a\0b", "e", out, "container");
  checkAbsolutePath("/", "f", out, "container", true);
  checkAbsolutePath(3, "g", out, "container");
  assert.deepEqual(out, [
    {
      path: "b",
      message:
        "'srv/media' is not an absolute path; write the full path on the node, e.g. /srv/media",
    },
    { path: "c", message: "'/srv/../etc' contains '..'; write the path it means without it" },
    { path: "d", message: "contains a NUL or line break; remove it" },
    { path: "e", message: "contains a NUL or line break; remove it" },
    { path: "f", message: "nothing can be mounted on '/'; pick a directory" },
    { path: "g", message: "expected an absolute path such as /media, found the number 3" },
  ]);
});
