/**
 * What a fossora node says over mDNS (DNS-SD, RFC 6762/6763) and what it believes of what others
 * say. Pure functions over packets as `dns-packet` builds and decodes them, so both directions
 * are tested without sockets.
 *
 * A node is the service instance `NAME._fossora._tcp.local`: a PTR from `_fossora._tcp.local`,
 * an SRV with the API port, a TXT with `v=1`, `id=`, `cluster=` and the A record of its advertise
 * address. The SRV target is `fossora-ID.local`, not `NAME.local`: the node name defaults to the
 * host name, which the host's own mDNS responder (avahi, systemd-resolved) already owns; claiming
 * it with another address (a Tailscale one) makes avahi rename the host, and our goodbye would
 * flush the host's address from every cache on the LAN.
 *
 * Everything received is hostile: a record that is malformed or out of bounds is skipped with a
 * reason, never thrown on, and a packet yields at most {@link MAX_INSTANCES_PER_PACKET} nodes.
 * @module
 */
import { isDnsLabel } from "../util/names.ts";

/** The DNS-SD service type every fossora agent announces and browses. */
export const SERVICE = "_fossora._tcp.local";
/** TTL of our records, in seconds: short, so a node that vanished without a goodbye goes soon. */
export const DEFAULT_TTL_SECONDS = 120;
/** The longest TTL believed (RFC 6762's 75 minutes); longer claims are cut to it. */
export const MAX_TTL_SECONDS = 4500;
/** Nodes read from one packet at most; the rest are skipped. */
export const MAX_INSTANCES_PER_PACKET = 32;
/** Records read from one packet at most (answers, then additionals). */
export const MAX_RECORDS_PER_PACKET = 256;
/** Questions of one query looked at. */
export const MAX_QUESTIONS = 32;
/** A TXT record larger than this (all strings, length bytes included) is skipped. */
export const MAX_TXT_BYTES = 400;
/** A TXT record with more strings than this is skipped. */
export const MAX_TXT_STRINGS = 16;
/** Longest TTL in a legacy unicast answer (RFC 6762 6.7). */
export const LEGACY_TTL_SECONDS = 10;
/** The mDNS port; a query from any other port is a one-shot (legacy) query. */
export const MDNS_PORT = 5353;
/** The AA bit of a DNS header's flags, as dns-packet takes them. */
const AUTHORITATIVE_ANSWER = 1 << 10;

const NODE_ID = /^[0-9a-f]{16}$/;
const CLUSTER_ID = /^[0-9A-Za-z._-]{1,64}$/;
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/** What this node announces. */
export interface Announcement {
  /** Node name, a DNS label: the instance is `NAME._fossora._tcp.local`. */
  name: string;
  /** Node id, 16 lowercase hex characters. */
  id: string;
  /** IPv4 address other nodes reach this one at (the A record). */
  address: string;
  /** The API port, where the join protocol listens (the SRV port). */
  apiPort: number;
  /** The cluster this node is a member of; undefined before it has one. */
  clusterId?: string;
}

/** A record as `dns-packet` encodes it. */
export type OutRecord =
  | { name: string; type: "PTR"; class: "IN"; ttl: number; data: string }
  | {
    name: string;
    type: "SRV";
    class: "IN";
    ttl: number;
    flush?: boolean;
    data: { priority: number; weight: number; port: number; target: string };
  }
  | { name: string; type: "TXT"; class: "IN"; ttl: number; flush?: boolean; data: string[] }
  | { name: string; type: "A"; class: "IN"; ttl: number; flush?: boolean; data: string };

/** A packet as `dns-packet` encodes it. */
export interface OutPacket {
  type: "query" | "response";
  id?: number;
  flags?: number;
  questions?: { name: string; type: string; class: "IN" }[];
  answers?: OutRecord[];
}

/** Another node, as one response packet describes it. */
export interface Sighting {
  name: string;
  id: string;
  clusterId?: string;
  address: string;
  apiPort: number;
  /** Seconds the records stay valid: the shortest TTL among them, at most MAX_TTL_SECONDS. */
  ttl: number;
}

/** A node that said it is leaving (records with TTL 0). */
export interface Goodbye {
  name: string;
  /** Known when the goodbye carried the TXT record; then only that node is dropped. */
  id?: string;
}

/** What a response packet says about fossora nodes. */
export interface ParsedResponse {
  sightings: Sighting[];
  goodbyes: Goodbye[];
  /** Why records were skipped, one entry per skipped instance (bounded). */
  rejected: string[];
}

/** `NAME._fossora._tcp.local`. */
export function instanceName(name: string): string {
  return `${name}.${SERVICE}`;
}

/** The SRV target and A record name of a node: `fossora-ID.local`. */
export function hostName(id: string): string {
  return `fossora-${id}.local`;
}

/** True for a node id as the membership part makes them. */
export function isNodeId(s: string): boolean {
  return NODE_ID.test(s);
}

/** True for a cluster id we announce and believe (a UUID fits). */
export function isClusterId(s: string): boolean {
  return CLUSTER_ID.test(s);
}

/**
 * True for an IPv4 address a node can be reached at: strict dotted quad, not 0/8, loopback,
 * multicast, reserved or broadcast. A peer claiming such an address is lying or broken.
 */
export function isUsableIPv4(s: string): boolean {
  const m = DOTTED_QUAD.exec(s);
  if (!m) return false;
  const o = m.slice(1).map(Number);
  if (o.some((n) => n > 255)) return false;
  return o[0] !== 0 && o[0] !== 127 && o[0] < 224;
}

/** Why an announcement cannot be made, or undefined when it can. */
export function checkAnnouncement(a: Announcement): string | undefined {
  if (typeof a.name !== "string" || !isDnsLabel(a.name)) {
    return `node name ${
      JSON.stringify(a.name)
    } is not a DNS label (a-z, 0-9 and '-', 1..63 characters); set --name`;
  }
  if (typeof a.id !== "string" || !isNodeId(a.id)) {
    return `node id ${JSON.stringify(a.id)} is not 16 lowercase hex characters`;
  }
  if (typeof a.address !== "string" || !isUsableIPv4(a.address)) {
    return `advertise address ${
      JSON.stringify(a.address)
    } is not an IPv4 address other machines can reach (not loopback, multicast or 0.0.0.0); set --advertise-addr, or leave mdns out of --discovery`;
  }
  if (!Number.isInteger(a.apiPort) || a.apiPort < 1 || a.apiPort > 65535) {
    return `API port ${a.apiPort} is not a port (1..65535); set --api-port`;
  }
  if (a.clusterId !== undefined && !isClusterId(a.clusterId)) {
    return `cluster id ${
      JSON.stringify(a.clusterId)
    } is not 1..64 characters of letters, digits, '.', '_' and '-'`;
  }
  return undefined;
}

/**
 * The records that describe this node, every one with `ttl` seconds (0 makes a goodbye). The
 * unique records (SRV, TXT, A) carry the cache-flush bit so caches replace an older TXT at once
 * (a node that joined a cluster); the shared PTR does not, nor does a goodbye.
 */
export function announcementRecords(a: Announcement, ttl = DEFAULT_TTL_SECONDS): OutRecord[] {
  const instance = instanceName(a.name);
  const target = hostName(a.id);
  const flush = ttl > 0;
  return [
    { name: SERVICE, type: "PTR", class: "IN", ttl, data: instance },
    {
      name: instance,
      type: "SRV",
      class: "IN",
      ttl,
      flush,
      data: { priority: 0, weight: 0, port: a.apiPort, target },
    },
    {
      name: instance,
      type: "TXT",
      class: "IN",
      ttl,
      flush,
      data: ["v=1", `id=${a.id}`, `cluster=${a.clusterId ?? ""}`],
    },
    { name: target, type: "A", class: "IN", ttl, flush, data: a.address },
  ];
}

/** The unsolicited or answering response that announces this node (or, with ttl 0, leaves). */
export function announcementPacket(a: Announcement, ttl = DEFAULT_TTL_SECONDS): OutPacket {
  return { type: "response", answers: announcementRecords(a, ttl) };
}

/** The browse query: who offers `_fossora._tcp.local`? */
export function browseQuery(): OutPacket {
  return { type: "query", questions: [{ name: SERVICE, type: "PTR", class: "IN" }] };
}

const lower = (v: unknown): string | undefined =>
  typeof v === "string" && v.length <= 255 ? v.toLowerCase() : undefined;

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/**
 * True when a received packet is a query that asks for this node's records: the service's PTR,
 * the instance's SRV/TXT, the host's A (or ANY of them). The class is not checked: dns-packet
 * leaves the unicast-response bit in it.
 */
export function asksFor(packet: unknown, a: Announcement): boolean {
  return askedQuestion(packet, a) !== undefined;
}

/** The first question of a query that asks for this node's records, as it was asked. */
function askedQuestion(
  packet: unknown,
  a: Announcement,
): { name: string; type: string } | undefined {
  if (!isObject(packet) || packet.type !== "query") return undefined;
  const wanted: Record<string, string[]> = {
    [SERVICE]: ["PTR", "ANY"],
    [instanceName(a.name)]: ["SRV", "TXT", "ANY"],
    [hostName(a.id)]: ["A", "ANY"],
  };
  for (const q of asArray(packet.questions).slice(0, MAX_QUESTIONS)) {
    if (!isObject(q)) continue;
    const name = lower(q.name);
    const type = String(q.type);
    if (name !== undefined && Object.hasOwn(wanted, name) && wanted[name].includes(type)) {
      return { name: q.name as string, type };
    }
  }
  return undefined;
}

/**
 * The answer to a one-shot query (from a port other than 5353, e.g. `dig -p 5353 @NODE`), sent
 * back to its sender only: same id, the question repeated, TTLs of at most 10 s and no cache-flush
 * bits (RFC 6762 6.7). Undefined when the packet does not ask for this node.
 */
export function legacyAnswer(
  packet: unknown,
  a: Announcement,
  ttl = DEFAULT_TTL_SECONDS,
): OutPacket | undefined {
  const q = askedQuestion(packet, a);
  if (!q || !isObject(packet)) return undefined;
  const id = packet.id;
  const answers = announcementRecords(a, Math.min(ttl, LEGACY_TTL_SECONDS)).map((r) => {
    const { flush: _, ...rest } = r as OutRecord & { flush?: boolean };
    return rest as OutRecord;
  });
  return {
    type: "response",
    id: typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 0xffff ? id : 0,
    flags: AUTHORITATIVE_ANSWER,
    questions: [{ name: q.name, type: q.type, class: "IN" }],
    answers,
  };
}

interface Rec {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}

function readRecord(v: unknown): Rec | undefined {
  if (!isObject(v)) return undefined;
  const name = lower(v.name);
  if (name === undefined || typeof v.type !== "string") return undefined;
  const ttl = v.ttl;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0) return undefined;
  return { name, type: v.type, ttl: Math.min(ttl, MAX_TTL_SECONDS), data: v.data };
}

interface Txt {
  v?: string;
  id?: string;
  cluster?: string;
}

/** The TXT keys we read; undefined with a reason when the record is malformed or too big. */
function readTxt(data: unknown): Txt | string {
  const strings = Array.isArray(data) ? data : [data];
  if (strings.length > MAX_TXT_STRINGS) return `TXT has ${strings.length} strings`;
  let size = 0;
  const out: Txt = {};
  const seen = new Set<string>();
  const decoder = new TextDecoder();
  for (const s of strings) {
    let text: string;
    if (s instanceof Uint8Array) {
      size += s.length + 1;
      if (size > MAX_TXT_BYTES) break;
      text = decoder.decode(s);
    } else if (typeof s === "string") {
      size += s.length + 1;
      if (size > MAX_TXT_BYTES) break;
      text = s;
    } else {
      return "TXT string is not text";
    }
    const eq = text.indexOf("=");
    const key = (eq < 0 ? text : text.slice(0, eq)).toLowerCase();
    // RFC 6763 6.4: only the first occurrence of a key counts.
    if (key === "" || seen.has(key)) continue;
    seen.add(key);
    const value = eq < 0 ? undefined : text.slice(eq + 1);
    if (key === "v" || key === "id" || key === "cluster") out[key] = value;
  }
  if (size > MAX_TXT_BYTES) return `TXT is larger than ${MAX_TXT_BYTES} bytes`;
  return out;
}

function readSrv(data: unknown): { port: number; target: string } | string {
  if (!isObject(data)) return "SRV without data";
  const port = data.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return `SRV port ${String(port)} out of range`;
  }
  const target = lower(data.target);
  if (target === undefined || target === "." || target === "") return "SRV without a target";
  return { port, target };
}

/**
 * The fossora nodes a received response describes, the goodbyes it carries, and why anything
 * else was skipped. A node counts only when one packet carries its SRV, TXT (`v=1`, a valid id
 * and cluster) and the A record of the SRV target; any of PTR/SRV/TXT with TTL 0 is a goodbye.
 * Anything that is not a response yields nothing.
 */
export function parseResponse(packet: unknown): ParsedResponse {
  const out: ParsedResponse = { sightings: [], goodbyes: [], rejected: [] };
  if (!isObject(packet) || packet.type !== "response") return out;
  const records: Rec[] = [];
  for (const raw of [...asArray(packet.answers), ...asArray(packet.additionals)]) {
    if (records.length >= MAX_RECORDS_PER_PACKET) break;
    const r = readRecord(raw);
    if (r) records.push(r);
  }
  const suffix = "." + SERVICE;
  const ptrTtl = new Map<string, number>();
  const instances: string[] = [];
  const note = (instance: string) => {
    if (!instances.includes(instance)) instances.push(instance);
  };
  for (const r of records) {
    if (r.type === "PTR" && r.name === SERVICE) {
      const target = lower(r.data);
      if (target === undefined) continue;
      ptrTtl.set(target, Math.min(ptrTtl.get(target) ?? Infinity, r.ttl));
      note(target);
    } else if (r.type === "SRV" && r.name.endsWith(suffix)) {
      note(r.name);
    }
  }
  if (instances.length > MAX_INSTANCES_PER_PACKET) {
    out.rejected.push(
      `${
        instances.length - MAX_INSTANCES_PER_PACKET
      } instances past the first ${MAX_INSTANCES_PER_PACKET}`,
    );
  }
  for (const instance of instances.slice(0, MAX_INSTANCES_PER_PACKET)) {
    const result = readInstance(instance, records, ptrTtl.get(instance));
    if (typeof result === "string") out.rejected.push(`${instance.slice(0, 80)}: ${result}`);
    else if ("ttl" in result) out.sightings.push(result);
    else out.goodbyes.push(result);
  }
  return out;
}

function readInstance(
  instance: string,
  records: readonly Rec[],
  ptrTtl: number | undefined,
): Sighting | Goodbye | string {
  const suffix = "." + SERVICE;
  if (!instance.endsWith(suffix)) return "PTR target outside the service";
  const name = instance.slice(0, -suffix.length);
  if (!isDnsLabel(name)) return "instance name is not a DNS label";
  const srvRec = records.find((r) => r.type === "SRV" && r.name === instance);
  const txtRec = records.find((r) => r.type === "TXT" && r.name === instance);
  const txt = txtRec ? readTxt(txtRec.data) : undefined;
  const id = typeof txt === "object" && txt.id !== undefined && isNodeId(txt.id)
    ? txt.id
    : undefined;
  const leaving = ptrTtl === 0 || srvRec?.ttl === 0 || txtRec?.ttl === 0;
  if (leaving) return id === undefined ? { name } : { name, id };
  if (!srvRec) return "no SRV record";
  if (!txtRec || txt === undefined) return "no TXT record";
  if (typeof txt === "string") return txt;
  if (txt.v !== "1") return `TXT v=${String(txt.v)} is not 1`;
  if (id === undefined) return "TXT id is not a node id";
  const cluster = txt.cluster ?? "";
  if (cluster !== "" && !isClusterId(cluster)) return "TXT cluster is not a cluster id";
  const srv = readSrv(srvRec.data);
  if (typeof srv === "string") return srv;
  const a = records.find((r) =>
    r.type === "A" && r.name === srv.target && typeof r.data === "string" &&
    isUsableIPv4(r.data)
  );
  if (!a) return `no usable A record for ${srv.target.slice(0, 80)}`;
  const ttl = Math.min(ptrTtl ?? Infinity, srvRec.ttl, txtRec.ttl, a.ttl);
  // A zero-TTL A record alone is no goodbye from the node, only a stale address.
  if (ttl === 0) return "A record with TTL 0";
  const sighting: Sighting = { name, id, address: a.data as string, apiPort: srv.port, ttl };
  if (cluster !== "") sighting.clusterId = cluster;
  return sighting;
}
