/**
 * The one-node cluster the bench measures: the HTTP backend, the WebSocket echo backend and idle
 * busybox services, 20 in all, deployed through the agent's API in one file.
 * @module
 */
import type { TestAgent } from "../test/helpers/agent.ts";
import { waitFor } from "../test/helpers/wait.ts";
import { BENCH_IMAGE, BUSYBOX_IMAGE, DENO_IMAGE, ECHO_PORT, ECHO_SERVER } from "./images.ts";

/** The HTTP backend service. */
export const BENCH_SERVICE = "bench";
/** The WebSocket echo service. */
export const WS_SERVICE = "bench-ws";
/** Services on the cluster while measuring, the two backends included (issue 6: 20). */
export const SERVICES = 20;

/** What {@link nodeAddress} picks from: `Deno.networkInterfaces()` entries. */
export interface Interface {
  name: string;
  family: string;
  address: string;
}

/**
 * The address the agent advertises, where replicas' ports are published: the first IPv4 address
 * of an interface that is neither loopback nor Docker's, as a real node's LAN address; 127.0.0.1
 * when there is none. Docker relays ports published on loopback through its userland
 * docker-proxy, which halves the backend's rate here and would hide the proxies' own cost.
 */
export function nodeAddress(interfaces: Interface[]): string {
  const own = interfaces.find((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") &&
    !/^(lo|docker\d*|br-.*|veth.*)$/.test(i.name)
  );
  return own?.address ?? "127.0.0.1";
}

/** A service as the API takes it. */
export interface ServiceSpec {
  name: string;
  image: string;
  command?: string[];
  ports: { container: number; http: boolean }[];
}

/** The service file: the two backends, then idle busybox httpd services up to `total`. */
export function serviceFile(total = SERVICES): ServiceSpec[] {
  const idle = Array.from({ length: Math.max(0, total - 2) }, (_, i) => ({
    name: `idle-${String(i + 1).padStart(2, "0")}`,
    image: BUSYBOX_IMAGE,
    ports: [{ container: 80, http: true }],
  }));
  return [
    { name: BENCH_SERVICE, image: BENCH_IMAGE, ports: [{ container: 80, http: true }] },
    {
      name: WS_SERVICE,
      image: DENO_IMAGE,
      command: ["eval", ECHO_SERVER],
      ports: [{ container: ECHO_PORT, http: true }],
    },
    ...idle,
  ];
}

/** A row of `GET /api/v1/services`, the fields the bench reads. */
export interface ServiceRow {
  name: string;
  replicas: number;
  ready: number;
}

/** The names of `wanted` not yet listed with every replica ready. */
export function notReady(rows: ServiceRow[], wanted: string[]): string[] {
  const ready = new Set(
    rows.filter((r) => r.replicas > 0 && r.ready >= r.replicas).map((r) => r.name),
  );
  return wanted.filter((n) => !ready.has(n));
}

/** Container ids of the two backends' ready replicas. */
export interface Deployed {
  bench: string;
  ws: string;
}

async function containerOf(agent: TestAgent, name: string): Promise<string | undefined> {
  const res = await agent.fetch(`/api/v1/services/${name}`);
  if (!res.ok) return void await res.body?.cancel();
  const { replicas } = (await res.json()) as {
    replicas: { ready: boolean; containerId: string | null }[];
  };
  return replicas.find((r) => r.ready && r.containerId)?.containerId ?? undefined;
}

/** Deploys {@link serviceFile} and waits until every service has its replica ready. */
export async function deployCluster(agent: TestAgent, total = SERVICES): Promise<Deployed> {
  const file = serviceFile(total);
  await agent.json("/api/v1/services", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(file),
  });
  let missing: string[] = [];
  await waitFor(
    `${total} services with ready replicas`,
    async () => {
      const { services } = await agent.json<{ services: ServiceRow[] }>("/api/v1/services");
      missing = notReady(services, file.map((s) => s.name));
      return missing.length === 0;
    },
    120_000,
    500,
  ).catch((err) => {
    throw new Error(`${(err as Error).message} (not ready: ${missing.join(", ")})`);
  });
  return {
    bench: await waitFor("the bench replica's container", () => containerOf(agent, BENCH_SERVICE)),
    ws: await waitFor("the echo replica's container", () => containerOf(agent, WS_SERVICE)),
  };
}
