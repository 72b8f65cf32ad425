/**
 * Loopback ports for servers that tests start. Two things made a port handed out by binding
 * port 0 unsafe: the kernel gives it out again to the next test worker that binds port 0 (the
 * workers of `deno test --parallel` do not share memory), and it lies in the ephemeral range, so
 * any outgoing connection may take it as its source port before the server binds it. So ports
 * come from just below the ephemeral range, and each is reserved machine-wide by a file that
 * names its holder's pid; a dead holder's reservation is taken over.
 * @module
 */

const DIR = "/tmp/fossora-test-ports";
/** How many ports below the ephemeral range are drawn from. */
const SPAN = 8000;
/** Ports this process reserved: never handed out twice, even after their server stopped. */
const given = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number(
      Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0],
    );
    if (Number.isInteger(low) && low > SPAN + 1024) return low;
  } catch { /* not Linux: the kernel's usual default */ }
  return 32768;
}

function pidAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Claims `port` for this process; false when a live process holds it. */
function reserve(port: number): boolean {
  const file = `${DIR}/${port}`;
  for (let tries = 0; tries < 2; tries++) {
    try {
      Deno.writeTextFileSync(file, String(Deno.pid), { createNew: true });
      return true;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      const holder = Number(Deno.readTextFileSync(file) || NaN);
      // A file being written has no pid yet: its writer lives.
      if (Number.isNaN(holder) || holder === Deno.pid || pidAlive(holder)) return false;
      Deno.removeSync(file);
    }
  }
  return false;
}

/** True when nothing listens on `port` on loopback, for TCP or for UDP. */
function bindable(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) return false;
    throw err;
  }
}

/**
 * A loopback port free for both TCP and UDP (DNS listens on both), reserved for this process
 * for as long as it lives, outside the range the kernel picks source ports from.
 */
export function freePort(): number {
  Deno.mkdirSync(DIR, { recursive: true });
  const high = ephemeralLow();
  const low = high - SPAN;
  let port = low + Math.floor(Math.random() * SPAN);
  for (let tries = 0; tries < SPAN; tries++, port = port + 1 < high ? port + 1 : low) {
    if (given.has(port) || !reserve(port)) continue;
    given.add(port);
    if (bindable(port)) return port;
  }
  throw new Error(`no free loopback port in ${low}–${high - 1}: see ${DIR}`);
}
