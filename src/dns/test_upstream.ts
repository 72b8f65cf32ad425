/**
 * A small upstream resolver for the forwarding tests, on real UDP and TCP sockets: it answers
 * the names it is given (A records with a TTL), NXDOMAIN with an SOA for the rest, and counts
 * what it is asked. A name can be made to truncate over UDP, fail, or be answered by a forger
 * first. Built on dns-packet, an encoder independent of the code under test.
 * @module
 */
import dnsPacket from "dns-packet";
import { Buffer } from "node:buffer";
import { closeQuietly } from "../util/conn.ts";

/** How the upstream treats one name. */
export interface UpstreamName {
  addresses: string[];
  ttl: number;
  /** Answer with this rcode and nothing else. */
  rcode?: "SERVFAIL" | "REFUSED";
  /** Over UDP, send TC with no records (the full answer is over TCP). */
  truncate?: boolean;
  /** Before the real answer, send one with another id, and one from another port. */
  spoofFirst?: boolean;
  /** Wait this long before answering, ms. */
  delayMs?: number;
}

/** A running upstream; disposing it stops it. */
export class TestUpstream implements AsyncDisposable {
  readonly names = new Map<string, UpstreamName>();
  /** Queries seen, by lower-case name, and by transport. */
  readonly asked = new Map<string, number>();
  udpQueries = 0;
  tcpQueries = 0;
  /** When set, every query is dropped unanswered (a dead server). */
  silent = false;
  readonly #udp: Deno.DatagramConn;
  readonly #tcp: Deno.Listener;
  readonly #other: Deno.DatagramConn;
  readonly #loops: Promise<void>[] = [];
  readonly #conns = new Set<Deno.Conn>();
  #closed = false;

  private constructor(udp: Deno.DatagramConn, tcp: Deno.Listener, other: Deno.DatagramConn) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.#other = other;
    this.#loops.push(this.#serveUdp(), this.#serveTcp());
  }

  /** Starts on a free port of 127.0.0.1, UDP and TCP alike. */
  static start(hostname = "127.0.0.1"): TestUpstream {
    for (let attempt = 0;; attempt++) {
      const udp = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
      const port = (udp.addr as Deno.NetAddr).port;
      try {
        const tcp = Deno.listen({ hostname, port });
        const other = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
        return new TestUpstream(udp, tcp, other);
      } catch (e) {
        udp.close();
        if (!(e instanceof Deno.errors.AddrInUse) || attempt > 20) throw e;
      }
    }
  }

  get port(): number {
    return (this.#udp.addr as Deno.NetAddr).port;
  }

  /** `127.0.0.1:PORT`, as `--dns-upstream` takes it. */
  get address(): string {
    return `${(this.#udp.addr as Deno.NetAddr).hostname}:${this.port}`;
  }

  /** How often `name` was asked, over either transport. */
  count(name: string): number {
    return this.asked.get(name.toLowerCase()) ?? 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#udp);
    closeQuietly(this.#other);
    closeQuietly(this.#tcp);
    for (const c of this.#conns) closeQuietly(c);
    await Promise.all(this.#loops);
  }

  /** The reply to `query`, or undefined to stay silent. */
  async #reply(bytes: Uint8Array, udp: boolean): Promise<Uint8Array | undefined> {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(Buffer.from(bytes));
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question || this.silent) return undefined;
    const name = question.name.toLowerCase();
    this.asked.set(name, (this.asked.get(name) ?? 0) + 1);
    if (udp) this.udpQueries++;
    else this.tcpQueries++;
    const entry = this.names.get(name);
    if (entry?.delayMs) await new Promise((r) => setTimeout(r, entry.delayMs));
    const base = {
      type: "response" as const,
      id: q.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: q.questions,
    };
    if (!entry) {
      return encode({
        ...base,
        flags: base.flags | 3, // NXDOMAIN
        authorities: [{
          type: "SOA",
          name: "example",
          ttl: 300,
          data: {
            mname: "ns.example",
            rname: "hostmaster.example",
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 60,
          },
        }],
      });
    }
    if (entry.rcode) {
      return encode({ ...base, flags: base.flags | (entry.rcode === "SERVFAIL" ? 2 : 5) });
    }
    if (udp && entry.truncate) {
      return encode({ ...base, flags: base.flags | dnsPacket.TRUNCATED_RESPONSE });
    }
    return encode({
      ...base,
      answers: question.type === "A"
        ? entry.addresses.map((data) => ({
          type: "A" as const,
          name: question.name,
          ttl: entry.ttl,
          data,
        }))
        : [],
    });
  }

  async #serveUdp(): Promise<void> {
    while (!this.#closed) {
      let packet: Uint8Array;
      let from: Deno.Addr;
      try {
        [packet, from] = await this.#udp.receive();
      } catch {
        return;
      }
      const copy = packet.slice();
      (async () => {
        const reply = await this.#reply(copy, true);
        if (!reply || this.#closed) return;
        const name = dnsPacket.decode(Buffer.from(copy)).questions?.[0]?.name ?? "";
        if (this.names.get(name.toLowerCase())?.spoofFirst) {
          const forged = reply.slice();
          forged[0] ^= 0xff; // another id
          await this.#udp.send(forged, from).catch(() => {});
          await this.#other.send(reply, from).catch(() => {}); // right id, wrong port
        }
        await this.#udp.send(reply, from).catch(() => {});
      })();
    }
  }

  async #serveTcp(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#tcp.accept();
      } catch {
        return;
      }
      this.#conns.add(conn);
      (async () => {
        try {
          const head = await readN(conn, 2);
          const reply = await this.#reply(await readN(conn, (head[0] << 8) | head[1]), false);
          if (reply) {
            const framed = new Uint8Array(reply.length + 2);
            framed[0] = reply.length >> 8;
            framed[1] = reply.length & 0xff;
            framed.set(reply, 2);
            await conn.write(framed);
          }
        } catch {
          // the client went away
        } finally {
          this.#conns.delete(conn);
          closeQuietly(conn);
        }
      })();
    }
  }
}

function encode(p: dnsPacket.Packet): Uint8Array {
  return new Uint8Array(dnsPacket.encode(p));
}

async function readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let at = 0; at < n;) {
    const got = await conn.read(out.subarray(at));
    if (got === null) throw new Error("closed");
    at += got;
  }
  return out;
}
