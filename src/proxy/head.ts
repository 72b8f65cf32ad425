/**
 * HTTP/1.1 message heads, read strictly (RFC 9112) and written anew. The proxy never forwards a
 * head as it arrived: it parses it, refuses anything two parsers could read differently (bare CR,
 * obs-fold, space before a colon, duplicate Content-Length, Transfer-Encoding other than
 * `chunked`, two Host fields), and writes a fresh head from the parsed fields. So what the backend
 * reads is exactly what the proxy understood.
 * @module
 */
import { Buffer } from "node:buffer";

/** One header field: `name` lower-cased for lookups, `raw` as the sender spelled it. */
export interface Field {
  name: string;
  raw: string;
  value: string;
}

/** A request head the proxy accepted. */
export interface RequestHead {
  method: string;
  /** origin-form (`/path?q`) or `*`; an absolute-form target is reduced to its path. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  fields: Field[];
  /** The authority: the Host field, or an absolute-form target's. */
  host: string | undefined;
  /** The body's length; undefined when chunked or absent. */
  contentLength: number | undefined;
  chunked: boolean;
  /** Tokens of the Connection field, lower-cased. */
  connection: string[];
}

/** A response head from a backend. */
export interface ResponseHead {
  minor: 0 | 1;
  status: number;
  reason: string;
  fields: Field[];
  contentLength: number | undefined;
  chunked: boolean;
  connection: string[];
}

/** Why a head was refused, with the status to answer (requests) and words for the log. */
export class HeadError extends Error {
  constructor(readonly status: 400 | 405 | 431 | 501 | 505, message: string) {
    super(message);
  }
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e\x80-\xff]+$/;
const HOST = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=%]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?$/;
const LENGTH = /^[0-9]{1,15}$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5][0-9][0-9])(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** Decodes bytes one to one into a string (ISO-8859-1), so every byte survives a round trip. */
export function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

const utf8 = new TextEncoder();

/** Encodes a string made by {@link latin1} (or ASCII) back to the same bytes. */
export function bytesOf(text: string): Uint8Array {
  // Heads are nearly always ASCII, where UTF-8 is the same bytes and TextEncoder the fastest.
  const bytes = utf8.encode(text);
  return bytes.length === text.length ? bytes : Buffer.from(text, "latin1");
}

/** Byte classes, indexed by a latin1 char code: token characters, and field value characters. */
const TCHAR = new Uint8Array(256);
const VCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  TCHAR[c] = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(c)) ? 1 : 0;
  // Visible characters, space, tab and obs-text; no CR, LF, NUL or other controls.
  VCHAR[c] = c === 0x09 || (c >= 0x20 && c !== 0x7f) ? 1 : 0;
}

/** Returned by {@link parseFields} when the head has more fields than allowed. */
const TOO_MANY = "too many fields";

/**
 * The first line of a head, without its line end; undefined when it holds a CR. A lone LF ends a
 * line as CRLF does (RFC 9112 §2.2 allows it, and the head is written anew with CRLF).
 */
function firstLine(s: string): string | undefined {
  let end = s.indexOf("\n");
  if (end < 0) end = s.length;
  if (end > 0 && s.charCodeAt(end - 1) === 0x0d) end--;
  const line = s.slice(0, end);
  return line.includes("\r") ? undefined : line;
}

/**
 * Parses the header lines after the first line into `fields`, in one pass over the characters
 * (heads are parsed for every request, so no regular expressions or splitting); returns a reason
 * when one is malformed, or {@link TOO_MANY}.
 */
function parseFields(s: string, fields: Field[], max: number): string | undefined {
  const n = s.length;
  let i = s.indexOf("\n");
  if (i < 0) return undefined;
  for (i++; i <= n;) {
    let eol = s.indexOf("\n", i);
    if (eol < 0) eol = n;
    let end = eol;
    if (end > i && s.charCodeAt(end - 1) === 0x0d) end--;
    if (fields.length === max) return TOO_MANY;
    const c0 = s.charCodeAt(i);
    if (c0 === 0x20 || c0 === 0x09) return "a folded header line (obs-fold)";
    const j = s.indexOf(":", i);
    if (j < 0 || j >= end || j === i) {
      const cr = s.indexOf("\r", i);
      return cr >= 0 && cr < end
        ? "a bare CR in the head"
        : "a header line without a name and colon";
    }
    for (let k = i; k < j; k++) {
      const c = s.charCodeAt(k);
      if (TCHAR[c] !== 1) {
        return c === 0x0d ? "a bare CR in the head" : "a header name that is not a token";
      }
    }
    let a = j + 1;
    let b = end;
    while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
    while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
    for (let k = a; k < b; k++) {
      const c = s.charCodeAt(k);
      if (VCHAR[c] !== 1) {
        return c === 0x0d ? "a bare CR in the head" : "a control character in a header value";
      }
    }
    const raw = s.slice(i, j);
    fields.push({ name: raw.toLowerCase(), raw, value: s.slice(a, b) });
    i = eol + 1;
  }
  return undefined;
}

/** The comma-separated tokens of every field named `name`, lower-cased. */
export function tokens(fields: Field[], name: string): string[] {
  const out: string[] = [];
  for (const f of fields) {
    if (f.name !== name) continue;
    for (const t of f.value.split(",")) {
      const v = t.trim().toLowerCase();
      if (v) out.push(v);
    }
  }
  return out;
}

interface Framing {
  contentLength: number | undefined;
  chunked: boolean;
}

/** Reads Content-Length and Transfer-Encoding; `lenientSameLength` accepts repeated equal ones. */
function framing(fields: Field[], lenientSameLength: boolean): Framing | string {
  let length: string | undefined;
  let te: string | undefined;
  for (const f of fields) {
    if (f.name === "content-length") {
      if (!LENGTH.test(f.value)) return "a Content-Length that is not a number";
      if (length !== undefined && (!lenientSameLength || length !== f.value)) {
        return "two Content-Length fields";
      }
      length = f.value;
    } else if (f.name === "transfer-encoding") {
      te = te === undefined ? f.value : `${te},${f.value}`;
    }
  }
  if (te !== undefined) {
    if (length !== undefined) return "both Content-Length and Transfer-Encoding";
    if (te.trim().toLowerCase() !== "chunked") {
      return "a Transfer-Encoding other than chunked";
    }
    return { contentLength: undefined, chunked: true };
  }
  return { contentLength: length === undefined ? undefined : Number(length), chunked: false };
}

/**
 * Parses a request head (the bytes before its blank line) or throws {@link HeadError}.
 * @example
 * ```ts
 * const head = parseRequestHead(bytesOf("GET / HTTP/1.1\r\nHost: a.example"), 100);
 * ```
 */
export function parseRequestHead(bytes: Uint8Array, maxFields: number): RequestHead {
  const text = latin1(bytes);
  const first = firstLine(text);
  if (first === undefined) throw new HeadError(400, "a bare CR in the request line");
  const sp1 = first.indexOf(" ");
  const sp2 = first.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || first.indexOf(" ", sp2 + 1) >= 0) {
    throw new HeadError(400, "a malformed request line");
  }
  const method = first.slice(0, sp1);
  let target = first.slice(sp1 + 1, sp2);
  const version = first.slice(sp2 + 1);
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    if (/^HTTP\/[0-9]/.test(version)) {
      throw new HeadError(505, "only HTTP/1.0 and HTTP/1.1 are served here");
    }
    throw new HeadError(400, "a malformed HTTP version");
  }
  if (!TOKEN.test(method)) throw new HeadError(400, "a method that is not a token");
  if (!TARGET.test(target)) throw new HeadError(400, "a request target with a control character");
  const fields: Field[] = [];
  const bad = parseFields(text, fields, maxFields);
  if (bad === TOO_MANY) throw new HeadError(431, `more than ${maxFields} header fields`);
  if (bad) throw new HeadError(400, bad);

  let host: string | undefined;
  let hosts = 0;
  for (const f of fields) {
    if (f.name === "host") {
      hosts++;
      host = f.value;
    }
  }
  if (hosts > 1) throw new HeadError(400, "two Host fields");
  const minor = version === "HTTP/1.1" ? 1 : 0;
  if (minor === 1 && hosts === 0) throw new HeadError(400, "no Host field (HTTP/1.1 needs one)");
  if (method === "CONNECT") throw new HeadError(405, "CONNECT: this is not a forward proxy");
  if (target.charCodeAt(0) !== 0x2f) {
    const abs = /^https?:\/\/([^/?#]*)([/?][^#]*)?$/i.exec(target);
    if (abs) {
      // RFC 9112 §3.2.2: the target's authority wins over Host.
      host = abs[1];
      target = abs[2] === undefined ? "/" : abs[2].startsWith("?") ? `/${abs[2]}` : abs[2];
    } else if (!(target === "*" && method === "OPTIONS")) {
      throw new HeadError(400, "a request target that is neither a path nor a URL");
    }
  }
  if (host !== undefined && !HOST.test(host)) {
    throw new HeadError(400, "a Host field that is not a host name and port");
  }
  const f = framing(fields, false);
  if (typeof f === "string") {
    throw new HeadError(f.startsWith("a Transfer-Encoding") ? 501 : 400, f);
  }
  if (f.chunked && minor === 0) throw new HeadError(400, "Transfer-Encoding in HTTP/1.0");
  return {
    method,
    target,
    minor,
    fields,
    host,
    contentLength: f.contentLength,
    chunked: f.chunked,
    connection: tokens(fields, "connection"),
  };
}

/** Parses a backend's response head; returns a reason instead when it is malformed. */
export function parseResponseHead(bytes: Uint8Array, maxFields: number): ResponseHead | string {
  const text = latin1(bytes);
  const first = firstLine(text);
  if (first === undefined) return "a bare CR in the status line";
  const m = STATUS_LINE.exec(first);
  if (!m) return `a malformed status line: ${JSON.stringify(first.slice(0, 100))}`;
  const fields: Field[] = [];
  const bad = parseFields(text, fields, maxFields);
  if (bad === TOO_MANY) return `more than ${maxFields} header fields`;
  if (bad) return bad;
  const f = framing(fields, true);
  if (typeof f === "string") return f;
  return {
    minor: m[1] === "1" ? 1 : 0,
    status: Number(m[2]),
    reason: m[3] ?? "",
    fields,
    contentLength: f.contentLength,
    chunked: f.chunked,
    connection: tokens(fields, "connection"),
  };
}

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) and the framing fields the proxy writes itself. The
 * Connection field may name more hop-by-hop fields, but never these framing ones: a client that
 * lists Content-Length there must not make the proxy drop its body's framing.
 */
const ALWAYS_DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
  "transfer-encoding",
  "content-length",
  "http2-settings",
]);
const NEVER_NAMED = new Set(["content-length", "transfer-encoding", "host"]);

/** The fields to pass on: without hop-by-hop ones, nor those `Connection` names, nor `drop`. */
export function endToEnd(fields: Field[], connection: string[], drop?: Set<string>): Field[] {
  const named = connection.filter((t) => !NEVER_NAMED.has(t) && !ALWAYS_DROPPED.has(t));
  return fields.filter((f) =>
    !ALWAYS_DROPPED.has(f.name) && (named.length === 0 || !named.includes(f.name)) &&
    !drop?.has(f.name)
  );
}

/** Writes header fields as `Name: value\r\n` lines. */
export function fieldLines(fields: Field[]): string {
  let out = "";
  for (const f of fields) out += `${f.raw}: ${f.value}\r\n`;
  return out;
}
