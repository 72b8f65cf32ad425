import assert from "node:assert/strict";
import { clockTicks } from "./cpu.ts";
import { LoadWatch, parseBusyTicks, parseTreeTicks } from "./others.ts";

Deno.test("busy ticks: user, nice, system, irq, softirq and steal; never idle or iowait", () => {
  const text = "cpu  100 20 30 5000 400 6 7 8 0 0\ncpu0 50 10 15 2500 200 3 3 4 0 0\n";
  assert.equal(parseBusyTicks(text), 100 + 20 + 30 + 6 + 7 + 8);
  assert.throws(() => parseBusyTicks("intr 1 2 3"), /not \/proc\/stat text/);
});

Deno.test("a process's ticks count what it reaped from its children too", () => {
  // pid (comm with ) and spaces) state ppid ... utime=11 stime=12 cutime=13 cstime=14
  const stat = "42 (deno (x) y) S 7 42 42 0 -1 4194560 1 2 3 4 11 12 13 14 20 0 9 0 100";
  assert.deepEqual(parseTreeTicks(stat), { ppid: 7, ticks: 11 + 12 + 13 + 14 });
  assert.throws(() => parseTreeTicks("garbage"), /not a \/proc\/PID\/stat line/);
});

/** The machine's busy share of its capacity over `f`, read apart from LoadWatch. */
async function busyShare<T>(f: () => Promise<T>): Promise<{ share: number; value: T }> {
  const read = async () => parseBusyTicks(await Deno.readTextFile("/proc/stat"));
  const b0 = await read();
  const t0 = performance.now();
  const value = await f();
  const seconds = (performance.now() - t0) / 1000;
  const capacity = seconds * (await clockTicks()) * navigator.hardwareConcurrency;
  const share = ((await read()) - b0) / capacity;
  return { share, value };
}

Deno.test("CPU burnt here and by a child already reaped is ours, not others'", async () => {
  const { share, value: load } = await busyShare(async () => {
    const watch = await LoadWatch.start();
    const spin = "const t = Date.now() + 1500; while (Date.now() < t) {}";
    await new Deno.Command(Deno.execPath(), { args: ["eval", spin], stdout: "null" }).output();
    const until = performance.now() + 1000;
    while (performance.now() < until) Math.sqrt(Math.random());
    return await watch.stop();
  });
  // About one core of two for the whole time was ours: others' share leaves it out.
  const cores = navigator.hardwareConcurrency;
  assert.ok(load.others <= share - 0.8 / cores, `others ${load.others}, machine ${share}`);
  assert.ok(load.testRuns >= 1, "this test run is a deno test");
});
