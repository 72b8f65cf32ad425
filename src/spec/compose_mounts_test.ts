import assert from "node:assert/strict";
import { composeMount, composeTmpfs } from "./compose_mounts.ts";
import type { Problems } from "./problems.ts";

function read(value: unknown, reader = composeMount) {
  const out: { problems: Problems; warnings: Problems } = { problems: [], warnings: [] };
  const mount = reader(value, "v", out);
  return { mount, ...out };
}

/** Reads a mount that must be accepted without a word. */
function quiet(value: unknown, reader = composeMount) {
  const r = read(value, reader);
  assert.deepEqual([r.problems, r.warnings], [[], []], JSON.stringify(value));
  return r.mount;
}

Deno.test("a named volume, short and long form, read-write or read-only", () => {
  assert.deepEqual(quiet("data:/data"), { kind: "volume", name: "data", path: "/data" });
  assert.deepEqual(quiet("data:/data:rw"), { kind: "volume", name: "data", path: "/data" });
  assert.deepEqual(quiet("db_data.1:/db:ro"), {
    kind: "volume",
    name: "db_data.1",
    path: "/db",
    readOnly: true,
  });
  assert.deepEqual(quiet({ type: "volume", source: "db", target: "/db", read_only: true }), {
    kind: "volume",
    name: "db",
    path: "/db",
    readOnly: true,
  });
  // type defaults to volume, as in compose.
  assert.deepEqual(quiet({ source: "db", target: "/db" }), {
    kind: "volume",
    name: "db",
    path: "/db",
  });
});

Deno.test("an absolute host path is a bind mount, short and long form, ro kept", () => {
  assert.deepEqual(quiet("/srv/media:/media:ro"), {
    kind: "bind",
    source: "/srv/media",
    path: "/media",
    readOnly: true,
  });
  assert.deepEqual(quiet("/var/run/docker.sock:/var/run/docker.sock"), {
    kind: "bind",
    source: "/var/run/docker.sock",
    path: "/var/run/docker.sock",
  });
  assert.deepEqual(quiet({ type: "bind", source: "/srv/a", target: "/a", read_only: true }), {
    kind: "bind",
    source: "/srv/a",
    path: "/a",
    readOnly: true,
  });
});

Deno.test("a path relative to the compose file becomes a volume named after its last part, with a warning", () => {
  const cases: [unknown, string, string][] = [
    ["./library:/usr/src/app/upload", "library", "v"],
    ["./etc-pihole/:/etc/pihole", "etc-pihole", "v"],
    ["../x/y:/y", "y", "v"],
    ["~/conf:/conf", "conf", "v"],
    [{ type: "bind", source: "./a", target: "/a" }, "a", "v.source"],
  ];
  for (const [value, name, path] of cases) {
    const r = read(value);
    assert.deepEqual(r.problems, [], JSON.stringify(value));
    assert.equal(r.mount?.kind, "volume");
    assert.equal(r.mount?.kind === "volume" && r.mount.name, name);
    assert.equal(r.mount?.kind === "volume" && r.mount.fromPath, true);
    assert.deepEqual(r.warnings.map((w) => w.path), [path]);
  }
  assert.equal(
    read("./library:/usr/src/app/upload").warnings[0].message,
    "'./library' is a folder beside the compose file on your machine, which the nodes do not " +
      "have: fossora keeps it as the volume 'library' instead, which starts empty and moves with " +
      "the service (copy your files into it if the service needs them)",
  );
  assert.deepEqual(read("./data:/data:ro").mount, {
    kind: "volume",
    name: "data",
    path: "/data",
    readOnly: true,
    fromPath: true,
  });
});

Deno.test("a docs placeholder such as <path to data> becomes a volume, with a warning naming it", () => {
  const spaced = read("<path to data>:/data");
  assert.deepEqual(spaced.mount, {
    kind: "volume",
    name: "path-to-data",
    path: "/data",
    fromPath: true,
  });
  assert.deepEqual(spaced.problems, []);
  assert.deepEqual(spaced.warnings, [{
    path: "v",
    message: "'<path to data>' is a placeholder from the docs: fossora keeps the data in the " +
      "volume 'path-to-data', which moves with the service; write a folder of your nodes such " +
      "as /srv/path-to-data instead to use one",
  }]);
  const pathLike = read("</path/to/appdata/config>:/config");
  assert.deepEqual(pathLike.mount, {
    kind: "volume",
    name: "config",
    path: "/config",
    fromPath: true,
  });
  assert.equal(pathLike.warnings.length, 1);
});

Deno.test("a bare container path, or a long-form volume without source, is an anonymous volume", () => {
  assert.deepEqual(quiet("/cache"), { kind: "anonymous", path: "/cache" });
  assert.deepEqual(quiet({ type: "volume", target: "/anon" }), {
    kind: "anonymous",
    path: "/anon",
  });
});

Deno.test("tmpfs in the long form and in tmpfs: entries, with size and mode", () => {
  assert.deepEqual(quiet({ type: "tmpfs", target: "/t" }), { kind: "tmpfs", path: "/t" });
  assert.deepEqual(quiet({ type: "tmpfs", target: "/t", tmpfs: { size: "64m", mode: "1777" } }), {
    kind: "tmpfs",
    path: "/t",
    size: 64 * 1024 * 1024,
    mode: 0o1777,
  });
  // Frigate writes the size in bytes.
  assert.deepEqual(quiet({ type: "tmpfs", target: "/tmp/cache", tmpfs: { size: 1000000000 } }), {
    kind: "tmpfs",
    path: "/tmp/cache",
    size: 1000000000,
  });
  assert.deepEqual(quiet("/run", composeTmpfs), { kind: "tmpfs", path: "/run" });
  assert.deepEqual(quiet("/run:size=64m,mode=1777", composeTmpfs), {
    kind: "tmpfs",
    path: "/run",
    size: 64 * 1024 * 1024,
    mode: 0o1777,
  });
});

Deno.test("options that only tune Docker Desktop or SELinux are ignored: short silently, long with a warning", () => {
  for (const option of ["z", "Z", "cached", "delegated", "nocopy", "rshared", "z,ro"]) {
    const mount = quiet(`data:/data:${option}`);
    assert.equal(mount?.kind === "volume" && mount.readOnly === true, option === "z,ro", option);
  }
  const long = read({
    type: "volume",
    source: "a",
    target: "/a",
    volume: { nocopy: true },
    consistency: "cached",
  });
  assert.deepEqual(long.mount, { kind: "volume", name: "a", path: "/a" });
  assert.deepEqual(long.problems, []);
  assert.deepEqual(long.warnings.map((w) => w.path), ["v.consistency", "v.volume"]);
  const bind = read({ type: "bind", source: "/s", target: "/a", bind: { propagation: "rshared" } });
  assert.deepEqual(bind.mount, { kind: "bind", source: "/s", path: "/a" });
  assert.deepEqual(bind.warnings, [{
    path: "v.bind",
    message: "is ignored: fossora mounts host paths as Docker does by default",
  }]);
  const tmpfs = read("/run:noexec,size=1k", composeTmpfs);
  assert.deepEqual(tmpfs.mount, { kind: "tmpfs", path: "/run", size: 1024 });
  assert.deepEqual(tmpfs.warnings, [{ path: "v", message: "tmpfs option 'noexec' is ignored" }]);
});

Deno.test("bad mounts are refused, each with one problem that says what to write", () => {
  const cases: [unknown, string, string][] = [
    [5, "v", 'expected a volume such as "data:/data", found the number 5'],
    [
      ":/data",
      "v",
      "nothing is written before ':/data'; write a volume name (data:/data) or a folder of the " +
      "node (/srv/data:/data)",
    ],
    [
      "data:/data:bogus",
      "v",
      "volume option 'bogus' is not one Docker knows (ro, rw, z, Z, nocopy…); remove it",
    ],
    ["a:b:c:d", "v", `'a:b:c:d' is not a volume; write SOURCE:/path[:ro], e.g. "data:/data"`],
    [
      "data:relative",
      "v",
      'expected an absolute path inside the container such as /config, found a string ("relative")',
    ],
    ["data:/", "v", "cannot mount on '/' inside the container; pick a directory"],
    [
      "bad name!:/x",
      "v",
      "'bad name!' is not a volume name Docker accepts: letters, digits, '_', '.' and '-', " +
      "starting with a letter or digit",
    ],
    [
      { type: "bind", source: "data", target: "/a" },
      "v.source",
      "a bind mount needs a host path such as /srv/media, found 'data'",
    ],
    [{ type: "bind", target: "/a" }, "v.source", "is missing; give the host path"],
    // Checked as the fossora form's binds: a node checks no host path longer than 1024.
    [`/${"a".repeat(2000)}:/a`, "v", "is 2001 characters long; at most 1024 are allowed"],
    ["/srv/../etc:/a", "v", "'/srv/../etc' contains '..'; write the path it means without it"],
    [
      { type: "npipe", source: "x", target: "/a" },
      "v.type",
      'expected volume, bind or tmpfs, found a string ("npipe"); Docker on Linux mounts these three',
    ],
    [
      { source: "a", target: "/a", read_only: "yes" },
      "v.read_only",
      'expected true or false, found a string ("yes")',
    ],
    [
      { type: "tmpfs", target: "/t", tmpfs: { size: "big" } },
      "v.tmpfs.size",
      'expected a size such as 64m, found a string ("big")',
    ],
    [
      { type: "volume", source: "a", target: "/a", extra: 1 },
      "v.extra",
      "fossora does not understand this compose key; remove it",
    ],
    [
      { source: "a" },
      "v.target",
      "expected an absolute path inside the container such as /config, found nothing",
    ],
  ];
  for (const [value, path, message] of cases) {
    assert.deepEqual(read(value).problems, [{ path, message }], JSON.stringify(value));
  }
  assert.deepEqual(read("run", composeTmpfs).problems, [{
    path: "v",
    message:
      'expected an absolute path inside the container such as /config, found a string ("run")',
  }]);
});
