/** Ports handed out by this worker: the kernel may give a just-closed port out again. */
const given = new Set<number>();

/**
 * A loopback port free for both TCP and UDP (DNS listens on both), never one this worker gave
 * out before, for servers started by tests.
 */
export function freePort(): number {
  for (let tries = 0; tries < 100; tries++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    try {
      if (given.has(port)) continue;
      try {
        Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
      } catch (err) {
        if (err instanceof Deno.errors.AddrInUse) continue;
        throw err;
      }
      given.add(port);
      return port;
    } finally {
      l.close();
    }
  }
  throw new Error("no free loopback port after 100 tries");
}
