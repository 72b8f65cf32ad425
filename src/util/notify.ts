/**
 * systemd's readiness protocol (sd_notify): one datagram such as `READY=1` sent to the unix
 * socket named by NOTIFY_SOCKET, so `Type=notify` units start dependants only once we are ready.
 * @module
 */

function notifySocket(env?: Record<string, string | undefined>): string | undefined {
  if (env) return env.NOTIFY_SOCKET;
  try {
    return Deno.env.get("NOTIFY_SOCKET");
  } catch {
    return undefined; // no env permission: behave as if not under systemd
  }
}

/**
 * Sends `state` (e.g. `READY=1`, `STOPPING=1`, `STATUS=...`) to systemd. Resolves false when
 * NOTIFY_SOCKET is unset or sending fails; never throws and never logs, so callers can fire it
 * unconditionally. A leading `@` names an abstract socket, as systemd's own sd_notify reads it.
 * `env` defaults to the process environment.
 */
export async function sdNotify(
  state: string,
  env?: Record<string, string | undefined>,
): Promise<boolean> {
  const target = notifySocket(env);
  if (!target || !(target.startsWith("/") || target.startsWith("@"))) return false;
  const path = target.startsWith("@") ? "\0" + target.slice(1) : target;
  let dir: string | undefined;
  let conn: Deno.DatagramConn | undefined;
  try {
    // Deno only sends datagrams from a bound socket, so bind one to a private temporary path.
    dir = await Deno.makeTempDir({ prefix: "fossora-notify-" });
    conn = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/s` });
    await conn.send(new TextEncoder().encode(state), { transport: "unixpacket", path });
    return true;
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch { /* already closed */ }
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
