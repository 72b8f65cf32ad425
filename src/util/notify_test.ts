import assert from "node:assert/strict";
import { sdNotify } from "./notify.ts";

/** Receives one datagram on `conn`, failing after a deadline rather than hanging the suite. */
async function receiveOne(conn: Deno.DatagramConn, ms = 5000): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no datagram within ${ms} ms`)), ms);
  });
  try {
    const [data] = await Promise.race([conn.receive(), deadline]);
    return new TextDecoder().decode(data);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("READY=1 reaches a listening notify socket at a path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-notify-test-" });
  const path = `${dir}/notify.sock`;
  const conn = Deno.listenDatagram({ transport: "unixpacket", path });
  try {
    const received = receiveOne(conn);
    assert.equal(await sdNotify("READY=1", { NOTIFY_SOCKET: path }), true);
    assert.equal(await received, "READY=1");
  } finally {
    conn.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an @ name reaches an abstract notify socket", async () => {
  const name = `fossora-notify-test-${crypto.randomUUID()}`;
  const conn = Deno.listenDatagram({ transport: "unixpacket", path: "\0" + name });
  try {
    const received = receiveOne(conn);
    assert.equal(await sdNotify("STATUS=serving", { NOTIFY_SOCKET: "@" + name }), true);
    assert.equal(await received, "STATUS=serving");
  } finally {
    conn.close();
  }
});

Deno.test("without NOTIFY_SOCKET nothing is sent and the result is false", async () => {
  assert.equal(await sdNotify("READY=1", {}), false);
  assert.equal(await sdNotify("READY=1", { NOTIFY_SOCKET: "" }), false);
});

Deno.test("a socket nobody listens on gives false, not an exception", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fossora-notify-test-" });
  try {
    assert.equal(await sdNotify("READY=1", { NOTIFY_SOCKET: `${dir}/absent.sock` }), false);
    assert.equal(await sdNotify("READY=1", { NOTIFY_SOCKET: "relative/path" }), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
