import assert from "node:assert/strict";
import { clientProgram, formatMeshReport, parseFigures } from "./mesh.ts";

Deno.test("the mesh report gives each path's ratios to direct and the transfer goal's verdict", () => {
  const direct = { rps: 40_000, p99Ms: 0.5, mbPerS: 1000 };
  const report = formatMeshReport({
    direct,
    sameNode: { rps: 20_000, p99Ms: 1, mbPerS: 600 },
    acrossNodes: { rps: 10_000, p99Ms: 2, mbPerS: 400 },
  });
  assert.match(
    report,
    /same node\s+20000 req\/s \(0\.50x\)\s+p99\s+1\.00 ms \(2\.00x\)\s+600 MB\/s \(0\.60x\)/,
  );
  assert.match(report, /MISS across nodes transfer 0\.40x direct \(goal >= 0\.5x\)/);
  const pass = formatMeshReport({
    direct,
    sameNode: direct,
    acrossNodes: { ...direct, mbPerS: 500 },
  });
  assert.match(pass, /PASS across nodes transfer 0\.50x/);
});

Deno.test("the client's figures are read from its last line, and anything else is an error", () => {
  assert.deepEqual(parseFigures('warming up\n{"rps":1,"p99Ms":2,"mbPerS":3}\n'), {
    rps: 1,
    p99Ms: 2,
    mbPerS: 3,
  });
  assert.throws(() => parseFigures("error: transfer stopped at 5 bytes"), /printed no figures/);
  assert.throws(() => parseFigures('{"rps":1}'), /incomplete/);
  // The program is valid JavaScript with the host and duration in it.
  const program = clientProgram("far", 3);
  assert.match(program, /const host = "far";/);
  new Function(`return async () => {${program}}`);
});
