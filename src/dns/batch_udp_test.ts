import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import { silentLogger } from "../util/log.ts";
import { BatchUdp, osError, sockaddr } from "./batch_udp.ts";
import type { UdpAnswerer } from "./udp.ts";

/** Echoes each datagram back with QR set, so a reply names the query it answers. */
const echo: UdpAnswerer = {
  answer: (p) => p.slice(),
  answerInto(p, out) {
    out.set(p);
    out[2] |= 0x80;
    return p.length;
  },
};

const noScope = (name: string) => (name === "eth0" ? 2 : 0);

Deno.test("sockaddr lays out IPv4 and IPv6 (with its scope) as Linux reads them", () => {
  const v4 = sockaddr("192.0.2.1", 53, noScope);
  assert.equal(v4.family, 2);
  assert.deepEqual([...v4.bytes], [2, 0, 0, 53, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const v6 = sockaddr("fe80::1%eth0", 5353, noScope);
  assert.equal(v6.family, 10);
  assert.equal(v6.bytes.length, 28);
  assert.deepEqual([...v6.bytes.subarray(0, 4)], [10, 0, 0x14, 0xe9]);
  assert.deepEqual([...v6.bytes.subarray(8, 10)], [0xfe, 0x80]);
  assert.equal(v6.bytes[23], 1);
  assert.equal(new DataView(v6.bytes.buffer).getUint32(24, true), 2, "scope id");
  assert.equal(new DataView(sockaddr("fe80::1%7", 1, noScope).bytes.buffer).getUint32(24, true), 7);
  assert.throws(() => sockaddr("localhost", 53, noScope), /not an IP address/);
  assert.throws(() => sockaddr("fe80::1%wlan9", 53, noScope), /no interface "wlan9"/);
});

Deno.test("errno becomes the error Deno's own sockets throw", () => {
  assert.ok(osError(98, "x") instanceof Deno.errors.AddrInUse);
  assert.ok(osError(99, "x") instanceof Deno.errors.AddrNotAvailable);
  assert.ok(osError(13, "x") instanceof Deno.errors.PermissionDenied);
  assert.match(osError(12345, "127.0.0.1:53").message, /os error 12345\) on 127\.0\.0\.1:53/);
});

Deno.test("bursts from several clients: every datagram is answered, to its own sender", async () => {
  const udp = new BatchUdp(echo, silentLogger);
  const clients = Array.from(
    { length: 4 },
    () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  const timeout = setTimeout(() => clients.forEach((c) => c.close()), 15_000);
  try {
    const sock = udp.open("127.0.0.1", 0);
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: sock.port };
    // 160 in flight, more than one recvmmsg batch (64), few enough for the socket's buffer.
    const burst = 40;
    for (let round = 0; round < 4; round++) {
      const received = clients.map(() => new Set<number>());
      const readers = clients.map(async (c, k) => {
        while (received[k].size < burst) {
          const [data] = await c.receive();
          assert.equal(data[2] & 0x80, 0x80, "an answer");
          assert.equal(data[0], k, "answered to the client that asked");
          received[k].add(data[1]);
        }
      });
      for (let i = 0; i < burst; i++) {
        await Promise.all(clients.map((c, k) => c.send(new Uint8Array([k, i, 0, round]), to)));
      }
      await Promise.all(readers);
      assert.deepEqual(received.map((r) => r.size), [burst, burst, burst, burst]);
    }
  } finally {
    clearTimeout(timeout);
    for (const c of clients) {
      try {
        c.close();
      } catch {
        // closed by the timeout
      }
    }
    await udp.stop();
  }
});

Deno.test("a socket closed while the poll waits releases its port; stop ends everything", async () => {
  const udp = new BatchUdp(echo, silentLogger);
  try {
    const first = udp.open("127.0.0.1", 0);
    const other = udp.open("127.0.0.1", 0);
    first.close();
    first.close();
    await waitFor(
      "the port to be free again",
      () => {
        try {
          Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: first.port })
            .close();
          return true;
        } catch {
          return false;
        }
      },
      5000,
      10,
    );
    assert.throws(() => udp.open("127.0.0.1", other.port), Deno.errors.AddrInUse);
  } finally {
    await udp.stop();
  }
  assert.throws(() => udp.open("127.0.0.1", 0), /already stopped/);
  await udp.stop();
  await new BatchUdp(echo, silentLogger).stop(); // never opened anything
});
