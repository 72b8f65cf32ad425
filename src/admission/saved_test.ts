import assert from "node:assert/strict";
import { loadMembership, saveMembership } from "./saved.ts";

Deno.test("membership is saved private and read back; a damaged file says what to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await loadMembership(dir), undefined, "a node that never joined");
    const m = {
      cluster: "c1",
      role: "worker" as const,
      founder: false,
      clientUrls: ["https://a:2379"],
    };
    await saveMembership(dir, m);
    assert.deepEqual(await loadMembership(dir), m);
    assert.equal((await Deno.stat(`${dir}/membership.json`)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(`${dir}/membership.json`, '{"cluster": "c1", "ro');
    await assert.rejects(loadMembership(dir), /not JSON: restore it from a backup/);
    await Deno.writeTextFile(`${dir}/membership.json`, '{"cluster": "c1", "role": "boss"}');
    await assert.rejects(loadMembership(dir), /not a membership record/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
