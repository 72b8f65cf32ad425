import assert from "node:assert/strict";
import { checkHostPath, HostPathReporter, wantedHostPaths } from "./host_paths.ts";
import type { HostPathKind, ServiceSpec } from "../state/types.ts";
import { MAX_HOST_PATH_CHARS, MAX_HOST_PATHS } from "../state/types.ts";

function spec(name: string, more: Partial<ServiceSpec> = {}): ServiceSpec {
  return { name, image: "x", replicas: 1, ports: [], env: {}, volumes: [], placement: {}, ...more };
}

Deno.test("wanted host paths are every bind source and device of every service, once, sorted", () => {
  const paths = wantedHostPaths([
    spec("a", {
      binds: [{ source: "/srv/media", path: "/media" }, {
        source: "/etc/localtime",
        path: "/etc/localtime",
      }],
    }),
    spec("b", { devices: [{ host: "/dev/dri" }], binds: [{ source: "/srv/media", path: "/m" }] }),
    spec("c"),
  ]);
  assert.deepEqual(paths, ["/dev/dri", "/etc/localtime", "/srv/media"]);
});

Deno.test("wanted host paths leave out what a hostile spec adds beyond the bounds", () => {
  const many = Array.from({ length: MAX_HOST_PATHS + 50 }, (_, i) => ({
    source: `/p/${String(i).padStart(4, "0")}`,
    path: "/x",
  }));
  const paths = wantedHostPaths([
    spec("a", {
      binds: [
        ...many,
        { source: "relative/path", path: "/x" },
        { source: `/${"a".repeat(MAX_HOST_PATH_CHARS)}`, path: "/x" },
        { source: "/with\0nul", path: "/x" },
      ],
    }),
  ]);
  assert.equal(paths.length, MAX_HOST_PATHS);
  assert.ok(paths.every((p) => p.startsWith("/p/")));
});

Deno.test("a host path is a dir, a file, a device, something else, or missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "x");
    await Deno.symlink(`${dir}/f`, `${dir}/link`);
    assert.equal(await checkHostPath(dir), "dir");
    assert.equal(await checkHostPath(`${dir}/f`), "file");
    assert.equal(await checkHostPath(`${dir}/link`), "file");
    assert.equal(await checkHostPath("/dev/null"), "device");
    assert.equal(await checkHostPath(`${dir}/nothing`), "missing");
    const listener = Deno.listen({ transport: "unix", path: `${dir}/sock` });
    try {
      assert.equal(await checkHostPath(`${dir}/sock`), "other");
    } finally {
      listener.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the reporter writes what it found only when it changed, and checks again on a change of services", async () => {
  const have = new Map<string, HostPathKind>([["/srv/media", "missing"]]);
  let services = [spec("a", { binds: [{ source: "/srv/media", path: "/m" }] })];
  const written: Record<string, HostPathKind>[] = [];
  const reporter = new HostPathReporter({
    services: () => services,
    publish: (p) => (written.push(p), Promise.resolve()),
    check: (p) => Promise.resolve(have.get(p) ?? "missing"),
  });
  await reporter.check();
  await reporter.check();
  assert.deepEqual(written, [{ "/srv/media": "missing" }]);
  have.set("/srv/media", "dir"); // a disk was mounted
  await reporter.check();
  assert.deepEqual(written.at(-1), { "/srv/media": "dir" });
  services = [...services, spec("b", { devices: [{ host: "/dev/dri" }] })];
  reporter.changed();
  const deadline = Date.now() + 2000;
  while (written.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(written.at(-1), { "/dev/dri": "missing", "/srv/media": "dir" });
  assert.equal(written.length, 3);
});

Deno.test("a failed write is tried again at the next check", async () => {
  let fail = true;
  const written: Record<string, HostPathKind>[] = [];
  const reporter = new HostPathReporter({
    services: () => [spec("a", { devices: [{ host: "/dev/null" }] })],
    publish: (p) =>
      fail ? Promise.reject(new Error("no quorum")) : (written.push(p), Promise.resolve()),
  });
  await assert.rejects(reporter.check(), /no quorum/);
  fail = false;
  await reporter.check();
  assert.deepEqual(written, [{ "/dev/null": "device" }]);
});
