/**
 * How busy this machine is (load, memory, the data directory's disk), for the node's record:
 * the web UI shows it and warns about a disk nearly full.
 * @module
 */
import { statfsSync } from "node:fs";
import type { NodeUsage } from "../state/types.ts";

/** Measures this machine now; `dataDir` names the file system whose space counts. */
export function measureUsage(dataDir: string): NodeUsage {
  const memory = Deno.systemMemoryInfo();
  const fs = statfsSync(dataDir);
  const cpus = navigator.hardwareConcurrency || 1;
  return {
    load: Math.round(Deno.loadavg()[0] / cpus * 100) / 100,
    memoryUsed: memory.total - memory.available,
    // What a process that is not root may still write, as df shows it.
    disk: { total: fs.blocks * fs.bsize, free: fs.bavail * fs.bsize },
  };
}
