/**
 * Helpers for the DNS tests: a view filled by hand, raw query packets, and `dig`.
 * @module
 */
import { Registry } from "../metrics/mod.ts";
import { MemoryView } from "../state/view.ts";
import type { NodeRecord, NodeState, ServiceRecord } from "../state/types.ts";
import { type DnsOptions, DnsServer, QUERIES_METRIC } from "./server.ts";

/** A node record with the fields the DNS server reads. */
export function node(name: string, address: string, state: NodeState = "ready"): NodeRecord {
  return {
    id: `id-${name}`,
    name,
    address,
    arch: "amd64",
    site: "home",
    labels: {},
    role: "voter",
    state,
    version: "test",
    apiPort: 7440,
    httpPort: 80,
    dnsPort: 53,
    startedAt: "2026-01-01T00:00:00Z",
    lastSeen: "2026-01-01T00:00:00Z",
  };
}

/** A service record with no ports. */
export function service(name: string): ServiceRecord {
  return {
    spec: {
      name,
      image: "busybox",
      replicas: 1,
      ports: [],
      env: {},
      volumes: [],
      placement: {},
    },
    generation: 1,
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
  };
}

/** Two ready nodes (alpha, Beta), one down (gamma), services `web` and `db`. */
export function sampleView(): MemoryView {
  const view = new MemoryView();
  for (
    const n of [
      node("alpha", "10.0.0.1"),
      node("Beta", "10.0.0.2"),
      node("gamma", "10.0.0.3", "down"),
    ]
  ) {
    view.nodeMap.set(n.id, n);
  }
  view.serviceMap.set("web", service("web"));
  view.serviceMap.set("db", service("db"));
  return view;
}

/** A query packet for one question, optionally with an EDNS OPT record. */
export function queryPacket(id: number, name: string, type: number, edns = 0): Uint8Array {
  const labels = name.split(".").filter(Boolean);
  const bytes = [id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns ? 1 : 0];
  for (const l of labels) bytes.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  bytes.push(0, type >> 8, type & 0xff, 0, 1);
  if (edns) bytes.push(0, 0, 41, edns >> 8, edns & 0xff, 0, 0, 0, 0, 0, 0);
  return new Uint8Array(bytes);
}

/** The query with an OPT record appended: its size, EDNS version and DO bit. */
export function addOpt(packet: Uint8Array, size = 1232, version = 0, dnssecOk = false): Uint8Array {
  const out = new Uint8Array(packet.length + 11);
  out.set(packet);
  out.set(
    [0, 0, 41, size >> 8, size & 0xff, 0, version, dnssecOk ? 0x80 : 0, 0, 0, 0],
    packet.length,
  );
  const arcount = ((out[10] << 8) | out[11]) + 1;
  out[10] = arcount >> 8;
  out[11] = arcount & 0xff;
  return out;
}

/** Runs dig against a server on 127.0.0.1 and returns its stdout and stderr. */
export function dig(port: number, ...args: string[]): Promise<string> {
  return digAt("127.0.0.1", port, ...args);
}

/** Runs dig against `server` (an address) and returns its stdout and stderr. */
export async function digAt(server: string, port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [`@${server}`, "-p", String(port), "+tries=1", "+time=2", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

/** The rcode dig printed, e.g. NOERROR. */
export function status(digOutput: string): string | undefined {
  return /status: ([A-Z]+)/.exec(digOutput)?.[1];
}

/** A record as the test decoder reads it back. */
export interface ReadRecord {
  name: string;
  type: number;
  ttl: number;
  data: string;
}

/** A response decoded independently of the server's writer, to check what went on the wire. */
export interface ReadResponse {
  id: number;
  rcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  question: string;
  answers: ReadRecord[];
  authority: ReadRecord[];
  additional: ReadRecord[];
}

/** Decodes a response, following compression pointers (with a hop limit). */
export function readResponse(buf: Uint8Array): ReadResponse {
  const u16 = (at: number) => (buf[at] << 8) | buf[at + 1];
  const name = (start: number): [string, number] => {
    const labels: string[] = [];
    let at = start;
    let end = -1;
    for (let hops = 0; hops < 50; hops++) {
      const len = buf[at];
      if (len === undefined) throw new Error("name runs past the packet");
      if ((len & 0xc0) === 0xc0) {
        if (end < 0) end = at + 2;
        at = u16(at) & 0x3fff;
        continue;
      }
      if (len === 0) return [labels.join("."), end < 0 ? at + 1 : end];
      labels.push(String.fromCharCode(...buf.subarray(at + 1, at + 1 + len)));
      at += len + 1;
    }
    throw new Error("pointer loop");
  };
  const [question, qEnd] = u16(4) === 1 ? name(12) : ["", 8];
  let at = qEnd + 4;
  const section = (count: number): ReadRecord[] => {
    const out: ReadRecord[] = [];
    for (let i = 0; i < count; i++) {
      const [owner, next] = name(at);
      const type = u16(next);
      const ttl = u16(next + 4) * 65536 + u16(next + 6);
      const len = u16(next + 8);
      const rdata = next + 10;
      let data = "";
      if (type === 1) data = [...buf.subarray(rdata, rdata + 4)].join(".");
      if (type === 2) data = name(rdata)[0];
      if (type === 6) {
        const [primary, p2] = name(rdata);
        const [admin, p3] = name(p2);
        const nums = [0, 1, 2, 3, 4].map((k) => u16(p3 + k * 4) * 65536 + u16(p3 + k * 4 + 2));
        data = [primary, admin, ...nums].join(" ");
      }
      if (type === 28) {
        data = Array.from({ length: 8 }, (_, k) => u16(rdata + k * 2).toString(16)).join(":");
      }
      if (type === 41) {
        const flags = u16(next + 6);
        data = `udp=${u16(next + 2)} ercode=${buf[next + 4]} version=${buf[next + 5]} do=${
          flags >> 15
        }`;
      }
      out.push({ name: owner, type, ttl, data });
      at = rdata + len;
    }
    return out;
  };
  const answers = section(u16(6));
  const authority = section(u16(8));
  const additional = section(u16(10));
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes left after the last record`);
  return {
    id: u16(0),
    rcode: buf[3] & 0xf,
    aa: (buf[2] & 0x04) !== 0,
    tc: (buf[2] & 0x02) !== 0,
    rd: (buf[2] & 0x01) !== 0,
    question,
    answers,
    authority,
    additional,
  };
}

/** Sends one UDP packet to a local port and waits up to `ms` for the reply. */
export async function udpAsk(port: number, packet: Uint8Array, ms = 2000): Promise<Uint8Array> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await sock.send(packet, { transport: "udp", hostname: "127.0.0.1", port });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no UDP reply within ${ms} ms`)), ms);
    });
    const [data] = await Promise.race([sock.receive(), timeout]);
    return data;
  } finally {
    clearTimeout(timer);
    sock.close();
  }
}

/** Reads length-prefixed messages from a TCP connection; undefined once it closes. */
export function tcpReader(conn: Deno.Conn): () => Promise<Uint8Array | undefined> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  return async () => {
    for (;;) {
      const len = buf.length >= 2 ? (buf[0] << 8) | buf[1] : -1;
      if (len >= 0 && buf.length >= 2 + len) {
        const message = buf.slice(2, 2 + len);
        buf = buf.slice(2 + len);
        return message;
      }
      const n = await conn.read(chunk);
      if (n === null) return undefined;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
    }
  };
}

/** The zone the DNS tests serve. */
export const DOMAIN = "fossora.home.arpa";

/** A started server on loopback (unless `extra` says otherwise), its metrics and its view. */
export interface TestServer {
  server: DnsServer;
  metrics: Registry;
  view: MemoryView;
  /** How many queries were counted with this result. */
  count(result: string): number;
}

/** Runs `fn` against a started server and stops it afterwards, even when `fn` fails. */
export async function withServer(
  fn: (t: TestServer) => Promise<void>,
  extra: Partial<DnsOptions> = {},
  view: MemoryView = sampleView(),
): Promise<void> {
  const metrics = new Registry();
  const server = new DnsServer({
    view,
    domain: DOMAIN,
    port: 0,
    hostname: "127.0.0.1",
    metrics,
    ...extra,
  });
  await server.start();
  try {
    await fn({
      server,
      metrics,
      view,
      count: (result) => metrics.counter(QUERIES_METRIC, "").get({ result }),
    });
  } finally {
    await server.stop();
  }
}
