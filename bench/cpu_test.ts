import assert from "node:assert/strict";
import { childPids, cpuSeconds, measureCpu, parseProcStat, perTenThousand } from "./cpu.ts";

// /proc/PID/stat of an nginx worker, and of a process whose name holds ") (" and spaces.
const NGINX = "8696 (nginx) S 8695 8695 8695 0 -1 4194624 1460 0 0 0 1234 567 0 0 20 0 1 0 " +
  "3142 11640832 1118 18446744073709551615 1 1 0 0 0 0 0 16781312 134 0 0 0 17 0 0 0 0 0 0";
const ODD = "42 (a) (b c) R 1 42 42 0 -1 4194304 1 0 0 0 7 3 0 0 20 0 1 0 9 1 1 1";

Deno.test("/proc stat gives the parent and user plus system ticks, whatever the name", () => {
  assert.deepEqual(parseProcStat(NGINX), { ppid: 8695, ticks: 1234 + 567 });
  assert.deepEqual(parseProcStat(ODD), { ppid: 1, ticks: 10 });
  assert.throws(() => parseProcStat("garbage"), /not a \/proc\/PID\/stat line/);
  assert.throws(() => parseProcStat("1 (x) S"), /not a \/proc\/PID\/stat line/);
});

Deno.test("CPU per 10,000 requests, 0 without requests", () => {
  assert.equal(perTenThousand({ seconds: 2, requests: 100_000 }), 0.2);
  assert.equal(perTenThousand({ seconds: 2, requests: 0 }), 0);
});

Deno.test("a busy child's CPU is counted, and it is found under its parent", async () => {
  const child = new Deno.Command("sh", {
    args: ["-c", "while :; do :; done"],
    stdout: "null",
  }).spawn();
  try {
    assert.ok((await childPids(Deno.pid)).includes(child.pid));
    const { cpu } = await measureCpu(
      () => Promise.resolve([child.pid]),
      async () => {
        await new Promise((r) => setTimeout(r, 300));
        return { requests: 10_000 };
      },
    );
    assert.ok(cpu.seconds > 0.05, `only ${cpu.seconds} s`);
    assert.equal(cpu.requests, 10_000);
    assert.equal(await cpuSeconds([0x7ffffffe]), 0, "a gone process counts nothing");
  } finally {
    child.kill();
    await child.status;
  }
});
