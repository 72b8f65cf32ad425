/**
 * The DNS wire format, only as much as an authoritative server for one small zone needs: read the
 * header and the single question of a query, and write a response that echoes the question and
 * points every owner name back into it (name compression), so answers stay small.
 *
 * Written by hand rather than with dns2's `Packet` because dns2 reads bit by bit (slow) and follows
 * compression pointers without a limit, so one crafted packet loops it forever.
 * @module
 */

/** Record types this server answers or recognises. */
export const TYPE = {
  A: 1,
  NS: 2,
  SOA: 6,
  AAAA: 28,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;
/** Record classes: IN, and the query-only ANY. */
export const CLASS = { IN: 1, ANY: 255 } as const;
/**
 * Response codes this server sends. BADVERS does not fit the header's 4 bits: its high bits go
 * into the OPT record (RFC 6891 6.1.3), so it is only sent to a query that has one.
 */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Size of the fixed DNS header. */
export const HEADER_SIZE = 12;
/** Largest UDP answer we send to a client that announces EDNS (the 2020 flag day value). */
export const EDNS_UDP_MAX = 1232;
/** Largest UDP answer without EDNS (RFC 1035). */
export const CLASSIC_UDP_MAX = 512;

/** A query's single question, read from the packet. */
export interface Query {
  id: number;
  /** Opcode field of the request (0 is a standard query). */
  opcode: number;
  /** Recursion desired, echoed back. */
  rd: boolean;
  /** Lower-cased, no trailing dot, "" for the root; odd bytes are escaped as `\DDD`. */
  name: string;
  type: number;
  class: number;
  /** Byte offset just past the question, which the response copies verbatim. */
  questionEnd: number;
  /** UDP payload size the client accepts, from its OPT record (at least 512); 0 when it sent none. */
  ednsSize: number;
  /** EDNS version the client speaks, from its OPT record; 0 when it sent none. */
  ednsVersion: number;
  /** The OPT record's DO bit, which the answer's OPT must copy (RFC 3225). */
  dnssecOk: boolean;
  /**
   * The question reads but the records after it do not: a second OPT (RFC 6891 6.1.1), an OPT
   * outside the additional section or not owned by the root, records running past the packet.
   * The answer is FORMERR with the question echoed.
   */
  formErr: boolean;
}

/** What to do with a packet that is not a query we can read. */
export type Unreadable = "drop" | "formerr";

/** Reads a query; "drop" for what must not be answered, "formerr" for a broken question. */
export function parseQuery(buf: Uint8Array): Query | Unreadable {
  if (buf.length < HEADER_SIZE) return "drop";
  const flags = (buf[2] << 8) | buf[3];
  if (flags & 0x8000) return "drop"; // a response: answering it could start a loop
  const qdcount = (buf[4] << 8) | buf[5];
  if (qdcount !== 1) return "formerr";
  const name = readQuestionName(buf);
  if (name === undefined) return "formerr";
  const at = name.end;
  if (at + 4 > buf.length) return "formerr";
  const query: Query = {
    id: (buf[0] << 8) | buf[1],
    opcode: (flags >> 11) & 0xf,
    rd: (flags & 0x0100) !== 0,
    name: name.text,
    type: (buf[at] << 8) | buf[at + 1],
    class: (buf[at + 2] << 8) | buf[at + 3],
    questionEnd: at + 4,
    ednsSize: 0,
    ednsVersion: 0,
    dnssecOk: false,
    formErr: false,
  };
  // Most queries end with the question, or carry one OPT right after it: no walk needed.
  if (buf[6] | buf[7] | buf[8] | buf[9] | buf[10] | buf[11]) readRecords(buf, query);
  return query;
}

/** Reads the uncompressed name at offset 12; undefined when it is not a valid one. */
function readQuestionName(buf: Uint8Array): { text: string; end: number } | undefined {
  let at = HEADER_SIZE;
  let text = "";
  let wire = 0;
  for (;;) {
    if (at >= buf.length) return undefined;
    const len = buf[at++];
    if (len === 0) break;
    // A pointer can only point backwards into the header here, and 0x40/0x80 are unused.
    if (len > 63 || at + len > buf.length) return undefined;
    wire += len + 1;
    if (wire > 254) return undefined;
    if (text) text += ".";
    for (let i = 0; i < len; i++) text += presentByte(buf[at + i]);
    at += len;
  }
  return { text, end: at };
}

/** A label byte as text: ASCII letters lower-cased, anything odd escaped so it matches nothing. */
function presentByte(b: number): string {
  if (b >= 0x41 && b <= 0x5a) return String.fromCharCode(b + 0x20);
  if ((b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x5f) {
    return String.fromCharCode(b);
  }
  return "\\" + String(b).padStart(3, "0");
}

/**
 * Walks every record after the question to find the OPT and what is wrong around it. Records are
 * skipped, never followed: a compression pointer ends a name, so the walk is bounded by the packet.
 */
function readRecords(buf: Uint8Array, q: Query): void {
  const counts = [(buf[6] << 8) | buf[7], (buf[8] << 8) | buf[9], (buf[10] << 8) | buf[11]];
  let at = q.questionEnd;
  let opts = 0;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]; i++) {
      const owner = at;
      at = skipName(buf, at);
      if (at < 0 || at + 10 > buf.length) return void (q.formErr = true);
      const type = (buf[at] << 8) | buf[at + 1];
      const rdlength = (buf[at + 8] << 8) | buf[at + 9];
      if (type === TYPE.OPT) {
        // RFC 6891 6.1.1: one OPT, in the additional section, owned by the root.
        if (section !== 2 || ++opts > 1 || at !== owner + 1 || buf[owner] !== 0) {
          return void (q.formErr = true);
        }
        q.ednsSize = Math.max(CLASSIC_UDP_MAX, (buf[at + 2] << 8) | buf[at + 3]);
        q.ednsVersion = buf[at + 5];
        q.dnssecOk = (buf[at + 6] & 0x80) !== 0;
      }
      at += 10 + rdlength;
      if (at > buf.length) return void (q.formErr = true);
    }
  }
}

/** The offset just past the name at `at`, or -1 when it runs off the packet or is not a name. */
export function skipName(buf: Uint8Array, at: number): number {
  for (;;) {
    if (at >= buf.length) return -1;
    const len = buf[at];
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2 <= buf.length ? at + 2 : -1;
    if (len > 63) return -1;
    at += len + 1;
  }
}

/** A resource record to write; owner and target names are plain lower-case text. */
export type Record =
  | { type: typeof TYPE.A; name: string; address: Uint8Array }
  | { type: typeof TYPE.AAAA; name: string; address: Uint8Array }
  | { type: typeof TYPE.NS; name: string; target: string }
  | {
    type: typeof TYPE.SOA;
    name: string;
    primary: string;
    admin: string;
    serial: number;
    minimum: number;
  };

/** A response, before encoding. */
export interface Reply {
  rcode: number;
  /** Authoritative answer: set for names in our zone. */
  aa: boolean;
  answers: Record[];
  authority: Record[];
  additional: Record[];
}

/** Where the writer stands while encoding one response. */
interface Cursor {
  buf: Uint8Array;
  at: number;
  /** The question's name, which sits at offset 12. */
  qname: string;
  /** The zone apex, and where its labels start inside the question name (0 when absent). */
  apex: string;
  apexAt: number;
}

/** Thrown by the writer when the next record does not fit; the caller then truncates. */
class Full extends Error {}

/**
 * Encodes the response to `query` (whose raw bytes are `request`) into `scratch`, returning a copy
 * sized to fit. When the answer or authority records do not fit in `limit` bytes, they are all
 * left out and TC is set so the client asks again over TCP; additional records (glue) that do not
 * fit are only dropped, whole RRsets at a time, since the answer is complete without them
 * (RFC 2181 9).
 */
export function encodeReply(
  request: Uint8Array,
  query: Query,
  reply: Reply,
  apex: string,
  limit: number,
  ttl: number,
  scratch: Uint8Array,
): Uint8Array {
  const end = Math.min(limit, scratch.length);
  const c: Cursor = {
    buf: scratch.subarray(0, end),
    at: query.questionEnd,
    qname: query.name,
    apex,
    apexAt: apexOffset(request, query.name, apex),
  };
  scratch.set(request.subarray(0, query.questionEnd));
  const counts = [0, 0, 0];
  let truncated = false;
  // A broken OPT is the reason for FORMERR: echoing one back would claim it was understood.
  const withOpt = query.ednsSize > 0 && !query.formErr;
  c.buf = scratch.subarray(0, end - (withOpt ? OPT_SIZE : 0));
  try {
    counts[0] = writeSection(c, reply.answers, ttl);
    counts[1] = writeSection(c, reply.authority, ttl);
  } catch (e) {
    if (!(e instanceof Full)) throw e;
    truncated = true;
    c.at = query.questionEnd;
    counts[0] = counts[1] = 0;
  }
  if (!truncated) counts[2] = writeGlue(c, reply.additional, ttl);
  c.buf = scratch.subarray(0, end);
  if (withOpt) {
    writeOpt(c, reply.rcode, query.dnssecOk);
    counts[2]++;
  }
  writeHeader(scratch, query, reply, truncated, counts);
  return scratch.slice(0, c.at);
}

/** Writes whole RRsets (same owner and type) while they fit; returns how many records went in. */
function writeGlue(c: Cursor, records: Record[], ttl: number): number {
  let written = 0;
  for (let i = 0; i < records.length;) {
    let j = i + 1;
    while (
      j < records.length && records[j].type === records[i].type &&
      records[j].name === records[i].name
    ) j++;
    const mark = c.at;
    try {
      for (let k = i; k < j; k++) writeRecord(c, records[k], ttl);
    } catch (e) {
      if (!(e instanceof Full)) throw e;
      c.at = mark;
      return written;
    }
    written += j - i;
    i = j;
  }
  return written;
}

/** Fills the header: id and question echoed, our flags and counts. */
function writeHeader(
  buf: Uint8Array,
  query: Query,
  reply: Reply,
  truncated: boolean,
  counts: number[],
): void {
  buf[2] = 0x80 | (query.opcode << 3) | (reply.aa ? 0x04 : 0) | (truncated ? 0x02 : 0) |
    (query.rd ? 0x01 : 0);
  buf[3] = reply.rcode & 0xf; // RA stays 0: we do not recurse; rcode's high bits go in the OPT
  buf[4] = 0;
  buf[5] = 1;
  for (let i = 0; i < 3; i++) {
    buf[6 + i * 2] = counts[i] >> 8;
    buf[7 + i * 2] = counts[i] & 0xff;
  }
}

/** Encodes a header-only FORMERR for a request whose question could not be read. */
export function encodeFormErr(request: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  out[0] = request[0];
  out[1] = request[1];
  out[2] = 0x80 | (request[2] & 0x79); // QR, with the request's opcode and RD
  out[3] = RCODE.FORMERR;
  return out;
}

/** Byte offset of the apex's labels inside the question name at offset 12, or 0. */
function apexOffset(buf: Uint8Array, qname: string, apex: string): number {
  if (qname === apex) return HEADER_SIZE;
  if (!qname.endsWith("." + apex)) return 0;
  const skip = qname.slice(0, qname.length - apex.length - 1).split(".").length;
  let at = HEADER_SIZE;
  for (let i = 0; i < skip; i++) at += buf[at] + 1;
  return at;
}

/** Size of our OPT record, kept free while the sections are written so it always fits. */
const OPT_SIZE = 11;

function writeSection(c: Cursor, records: Record[], ttl: number): number {
  for (const r of records) writeRecord(c, r, ttl);
  return records.length;
}

function writeRecord(c: Cursor, r: Record, ttl: number): void {
  writeName(c, r.name);
  put16(c, r.type);
  put16(c, CLASS.IN);
  put16(c, ttl >>> 16);
  put16(c, ttl & 0xffff);
  const lengthAt = c.at;
  put16(c, 0);
  switch (r.type) {
    case TYPE.A:
    case TYPE.AAAA:
      for (const b of r.address) put8(c, b);
      break;
    case TYPE.NS:
      writeName(c, r.target);
      break;
    case TYPE.SOA:
      writeName(c, r.primary);
      writeName(c, r.admin);
      for (const v of [r.serial, 3600, 600, 86400, r.minimum]) {
        put16(c, v >>> 16);
        put16(c, v & 0xffff);
      }
      break;
  }
  const len = c.at - lengthAt - 2;
  c.buf[lengthAt] = len >> 8;
  c.buf[lengthAt + 1] = len & 0xff;
}

/** Writes a name, as a pointer when it is the question's name or ends in the apex. */
function writeName(c: Cursor, name: string): void {
  if (name === c.qname) return putPointer(c, HEADER_SIZE);
  let head = name;
  if (c.apexAt && (name === c.apex || name.endsWith("." + c.apex))) {
    head = name.slice(0, Math.max(0, name.length - c.apex.length - 1));
  }
  for (const label of head ? head.split(".") : []) {
    put8(c, label.length);
    for (let i = 0; i < label.length; i++) put8(c, label.charCodeAt(i));
  }
  if (head !== name) return putPointer(c, c.apexAt);
  put8(c, 0);
}

function putPointer(c: Cursor, offset: number): void {
  put16(c, 0xc000 | offset);
}

/**
 * An OPT record: root owner, our UDP size, the rcode's high bits, version 0 (the one we speak),
 * the query's DO bit, no options.
 */
function writeOpt(c: Cursor, rcode: number, dnssecOk: boolean): void {
  put8(c, 0);
  put16(c, TYPE.OPT);
  put16(c, EDNS_UDP_MAX);
  put16(c, (rcode >> 4) << 8);
  put16(c, dnssecOk ? 0x8000 : 0);
  put16(c, 0);
}

function put8(c: Cursor, v: number): void {
  if (c.at >= c.buf.length) throw new Full();
  c.buf[c.at++] = v;
}

function put16(c: Cursor, v: number): void {
  if (c.at + 2 > c.buf.length) throw new Full();
  c.buf[c.at++] = (v >> 8) & 0xff;
  c.buf[c.at++] = v & 0xff;
}

/** Parses a dotted IPv4 address into 4 bytes; undefined when it is not one. */
export function ipv4Bytes(address: string): Uint8Array | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Frames a message for DNS over TCP: its length as two bytes, then the message. */
export function tcpFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}
