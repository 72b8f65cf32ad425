/**
 * The web UI's cost, for a Raspberry Pi: the bytes of its first page (goal under 100 KB, with its
 * script) and the time to render the overview of a sizeable home cluster (10 nodes, 100
 * services, 200 replicas), against the API's own JSON answer for the same services, measured in
 * the same run: the floor, since every page is made from the API's answers.
 * @module
 */
import { node, replica, spec } from "../src/api/fixtures.ts";
import { MemoryView } from "../src/state/view.ts";
import { UI_SCRIPT } from "../src/ui/assets.ts";
import { Browser, signedIn } from "../src/ui/fixtures.ts";

/** The first page's goal, in bytes. */
export const FIRST_PAGE_GOAL = 100 * 1024;

/** What the UI bench measures. */
export interface UiFigures {
  /** The login page, and the same with the one script a signed-in page loads. */
  firstPageBytes: number;
  scriptBytes: number;
  overviewBytes: number;
  /** Median time of one overview, and of the API's `GET /api/v1/services` (the reference). */
  overviewMs: number;
  apiMs: number;
}

/** A cluster a busy home might have. */
function bigView(): MemoryView {
  const view = new MemoryView();
  view.info = { id: "c", createdAt: "2026-01-01T00:00:00Z", domain: "home.test" };
  for (let i = 0; i < 10; i++) {
    view.nodeMap.set(
      `n${i}`,
      node(`n${i}`, `pi-${i}`, {
        capacity: { cpus: 4, memory: 8e9 },
        usage: { load: 0.3, memoryUsed: 3e9, disk: { total: 64e9, free: 20e9 } },
      }),
    );
  }
  for (let s = 0; s < 100; s++) {
    const name = `app-${s}`;
    view.serviceMap.set(name, {
      spec: spec(name, { replicas: 2, ports: [{ container: 8080, http: true }] }),
      generation: 1,
      createdAt: "2026-01-01T00:00:00Z",
      updatedAt: "2026-01-01T00:00:00Z",
    });
    for (let r = 0; r < 2; r++) view.putReplica(replica(name, r, `n${(s + r) % 10}`));
  }
  return view;
}

/** Median of `runs` timings of `f`, in ms. */
async function median(runs: number, f: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

/** Measures the UI in-process (no network: the page's own cost). */
export async function measureUi(progress: (m: string) => void, runs = 50): Promise<UiFigures> {
  progress("ui: first page and overview of 10 nodes and 100 services");
  const { app, b } = await signedIn({ view: bigView() });
  const login = await new Browser(app).go("/login");
  const overview = await b.go("/");
  if (overview.status !== 200) throw new Error(`the overview answered ${overview.status}`);
  const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  // Warm both paths first: the first run compiles.
  await b.go("/");
  const overviewMs = await median(runs, () => b.go("/"));
  const apiMs = await median(runs, async () => {
    const res = await app.request("http://pi-a:7440/api/v1/services", { headers: { cookie } });
    await res.text();
  });
  return {
    firstPageBytes: new TextEncoder().encode(login.text_).length,
    scriptBytes: new TextEncoder().encode(UI_SCRIPT).length,
    overviewBytes: new TextEncoder().encode(overview.text_).length,
    overviewMs,
    apiMs,
  };
}

/** The UI's lines of the report. */
export function formatUiReport(f: UiFigures): string {
  const first = f.firstPageBytes + f.scriptBytes;
  const verdict = first < FIRST_PAGE_GOAL ? "PASS" : "MISS";
  return [
    "web UI, in-process (10 nodes, 100 services, 200 replicas)",
    `${verdict} first page ${(first / 1024).toFixed(1)} KB with its script (goal < ` +
    `${FIRST_PAGE_GOAL / 1024} KB)`,
    `overview ${(f.overviewBytes / 1024).toFixed(1)} KB, rendered in ${
      f.overviewMs.toFixed(1)
    } ms: ${(f.overviewMs / f.apiMs).toFixed(2)}x the API's JSON of the services (${
      f.apiMs.toFixed(1)
    } ms)`,
  ].join("\n");
}
