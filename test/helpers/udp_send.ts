/**
 * Sends datagrams to the mDNS group from inside a network namespace, for test/mdns_test.ts:
 * the first argument is JSON `{ "packets": [base64, ...] }`; they leave by the namespace's route
 * for 224.0.0.251 (its default route, or a 224.0.0.0/4 route) and loop back to the namespace's own
 * listeners. Prints `sent N` and exits.
 * @module
 */
const { packets } = JSON.parse(Deno.args[0]) as { packets: string[] };
// Looped back too, so the namespace's own listeners get them as well as its neighbours.
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: "0.0.0.0",
  port: 0,
  loopback: true,
});
try {
  for (const b64 of packets) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    await conn.send(bytes, { transport: "udp", hostname: "224.0.0.251", port: 5353 });
  }
} finally {
  conn.close();
}
console.log(`sent ${packets.length}`);
