/**
 * Who the client is, told to the backend: `X-Forwarded-For`, `-Host`, `-Proto`, `-Port`,
 * `X-Real-IP` and `Forwarded`. What a client sends in these is replaced with what the proxy saw,
 * as Caddy and Traefik do, unless the client is a trusted proxy (`--trusted-proxies`): then its
 * chain is kept and extended. An app behind fossora can then trust them.
 * @module
 */
import { ipv6Bytes } from "../util/ip.ts";
import type { Field } from "./head.ts";

/** Addresses and CIDR ranges, IPv4 and IPv6, checked fast. */
export class TrustedProxies {
  readonly #v4: [number, number][] = [];
  readonly #v6: [bigint, bigint][] = [];

  /**
   * Reads entries like `192.168.1.10`, `10.0.0.0/8`, `fd00::/8`.
   * @throws {Error} naming the entry that is neither an address nor a CIDR.
   */
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const [addr, bits, extra] = e.trim().split("/");
      const v4 = parseV4(addr);
      const v6 = v4 === undefined ? parseV6(addr) : undefined;
      const max = v4 !== undefined ? 32 : 128;
      const n = bits === undefined ? max : Number(bits);
      if (
        (v4 === undefined && v6 === undefined) || extra !== undefined ||
        !Number.isInteger(n) || n < 0 || n > max || (bits !== undefined && !/^\d+$/.test(bits))
      ) {
        throw new Error(
          `trusted proxy "${e}" is not an address or CIDR; write e.g. 192.168.1.2 or 10.0.0.0/8`,
        );
      }
      if (v4 !== undefined) {
        const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
        this.#v4.push([(v4 & mask) >>> 0, mask]);
      } else {
        const mask = n === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - n)) - 1n);
        this.#v6.push([v6! & mask, mask]);
      }
    }
  }

  /** True when no entry was given: nobody is trusted. */
  get empty(): boolean {
    return this.#v4.length === 0 && this.#v6.length === 0;
  }

  /** Whether a peer address (as Deno reports it) is trusted. */
  has(address: string): boolean {
    if (this.empty) return false;
    const mapped = address.toLowerCase().startsWith("::ffff:") ? address.slice(7) : address;
    const v4 = parseV4(mapped);
    if (v4 !== undefined) return this.#v4.some(([net, mask]) => ((v4 & mask) >>> 0) === net);
    const v6 = parseV6(address);
    return v6 !== undefined && this.#v6.some(([net, mask]) => (v6 & mask) === net);
  }
}

function parseV4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  const bytes = ipv6Bytes(s);
  if (!bytes) return undefined;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** What the proxy saw of one request. */
export interface Seen {
  /** The client's address. */
  peer: string;
  /** The Host the client asked for. */
  host: string;
  proto: "http" | "https";
  /** The port the client connected to (from Host when it names one). */
  port: number;
}

/** True for the fields a client may use to claim another identity. */
export function isForwardingField(name: string): boolean {
  return name.startsWith("x-forwarded-") || name === "x-real-ip" || name === "forwarded";
}

/**
 * The forwarding fields to send: `kept` are the client's own (empty unless it is trusted), the
 * rest is what the proxy saw.
 */
export function forwardingFields(seen: Seen, kept: Field[]): Field[] {
  const own = [
    field("X-Forwarded-For", seen.peer),
    field("X-Forwarded-Host", seen.host),
    field("X-Forwarded-Proto", seen.proto),
    field("X-Forwarded-Port", String(seen.port)),
    field("X-Real-IP", seen.peer),
    field("Forwarded", forwardedElement(seen)),
  ];
  if (kept.length === 0) return own;
  // A trusted proxy's chains (For, Forwarded) are extended; its single values are kept.
  const chains = new Set(["x-forwarded-for", "forwarded"]);
  const out = own.map((f) => {
    const theirs = kept.filter((k) => k.name === f.name).map((k) => k.value);
    if (theirs.length === 0) return f;
    return { ...f, value: chains.has(f.name) ? [...theirs, f.value].join(", ") : theirs[0] };
  });
  const ours = new Set(out.map((f) => f.name));
  return [...kept.filter((f) => !ours.has(f.name)), ...out];
}

/** One `Forwarded` element (RFC 7239) for what the proxy saw. */
function forwardedElement(seen: Seen): string {
  const forIp = seen.peer.includes(":") ? `"[${seen.peer}]"` : seen.peer;
  return `for=${forIp};host="${seen.host.replace(/["\\]/g, "")}";proto=${seen.proto}`;
}

function field(raw: string, value: string): Field {
  return { name: raw.toLowerCase(), raw, value };
}
