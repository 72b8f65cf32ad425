import assert from "node:assert/strict";
import { createFileOnce, readTextFileIfExists, writeFileAtomic } from "./files.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fossora-files-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("writeFileAtomic replaces the content and sets the mode despite the umask", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/key`;
    await Deno.writeTextFile(path, "old", { mode: 0o600 });
    await writeFileAtomic(path, "new", { mode: 0o644 });
    assert.equal(await Deno.readTextFile(path), "new");
    assert.equal(modeOf(path), 0o644);
    await writeFileAtomic(path, new Uint8Array([104, 105]), { mode: 0o600 });
    assert.equal(await Deno.readTextFile(path), "hi");
    assert.equal(modeOf(path), 0o600);
    assert.deepEqual(names(dir), ["key"]);
  });
});

Deno.test("writeFileAtomic names the file and what to check, and leaves no temp file", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      writeFileAtomic(`${dir}/missing/key`, "x", { mode: 0o600 }),
      /cannot write .*missing\/key: .*check that its directory is writable/,
    );
    await Deno.mkdir(`${dir}/taken`);
    await assert.rejects(writeFileAtomic(`${dir}/taken`, "x", { mode: 0o600 }), /cannot write/);
    assert.deepEqual(names(dir), ["taken"]);
  });
});

Deno.test("createFileOnce creates a missing file and never replaces an existing one", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/node-id`;
    assert.equal(await createFileOnce(path, "first", { mode: 0o600 }), true);
    assert.equal(modeOf(path), 0o600);
    assert.equal(await createFileOnce(path, "second", { mode: 0o644 }), false);
    assert.equal(await Deno.readTextFile(path), "first");
    assert.deepEqual(names(dir), ["node-id"]);
  });
});

Deno.test("createFileOnce lets only one of several concurrent creators win", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/token`;
    const created = await Promise.all(
      ["a", "b", "c", "d"].map((v) => createFileOnce(path, v, { mode: 0o600 })),
    );
    assert.equal(created.filter(Boolean).length, 1);
    assert.equal(await Deno.readTextFile(path), ["a", "b", "c", "d"][created.indexOf(true)]);
  });
});

Deno.test("readTextFileIfExists reads a file and gives undefined for a missing one", async () => {
  await withTempDir(async (dir) => {
    assert.equal(await readTextFileIfExists(`${dir}/none`), undefined);
    await Deno.writeTextFile(`${dir}/some`, "text");
    assert.equal(await readTextFileIfExists(`${dir}/some`), "text");
    await assert.rejects(readTextFileIfExists(dir), /cannot read .*fix its permissions/);
  });
});
