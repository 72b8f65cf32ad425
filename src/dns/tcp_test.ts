import assert from "node:assert/strict";
import { tcpFrame, TYPE } from "./wire.ts";
import { dig, DOMAIN, queryPacket, readResponse, tcpReader, withServer } from "./test_util.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a client sending a query a byte at a time is cut off once tcpQueryMs has passed", async () => {
  await withServer(async (t) => {
    const frame = tcpFrame(queryPacket(1, `web.${DOMAIN}`, TYPE.A));
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.server.port });
    try {
      const started = Date.now();
      let closedAt = 0;
      const closed = tcpReader(conn)().then(
        (m) => (closedAt = Date.now(), m),
        () => (closedAt = Date.now(), undefined),
      );
      // The old idle timer restarted on every byte: at 50 ms a byte, this never ended.
      let sent = 0;
      while (sent < frame.length && !closedAt) {
        try {
          await conn.write(frame.subarray(sent, sent + 1));
        } catch {
          break;
        }
        sent++;
        await pause(50);
      }
      assert.equal(await closed, undefined, "closed without an answer");
      assert.ok(
        sent < frame.length,
        `cut off before the query was whole (${sent}/${frame.length})`,
      );
      const took = closedAt - started;
      assert.ok(took >= 250 && took < 2000, `closed after ${took} ms, tcpQueryMs is 300`);
    } finally {
      conn.close();
    }
    assert.equal(
      (await dig(t.server.port, `web.${DOMAIN}`, "+tcp", "+short")).trim().split("\n").length,
      2,
      "dig over TCP is still answered",
    );
  }, { tcpIdleMs: 5_000, tcpQueryMs: 300 });
});

Deno.test("a query in pieces within tcpQueryMs is answered, and each answer restarts the clock", async () => {
  await withServer(async (t) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.server.port });
    try {
      const read = tcpReader(conn);
      for (let id = 1; id <= 3; id++) {
        const frame = tcpFrame(queryPacket(id, `web.${DOMAIN}`, TYPE.A));
        await conn.write(frame.subarray(0, 5));
        await pause(150);
        await conn.write(frame.subarray(5));
        const r = readResponse((await read())!);
        assert.equal(r.id, id);
        assert.equal(r.answers.length, 2);
        // Three rounds of 150+ ms add up past tcpQueryMs: only a clock per query allows that.
        await pause(150);
      }
    } finally {
      conn.close();
    }
  }, { tcpIdleMs: 1_000, tcpQueryMs: 400 });
});

Deno.test("a connection that sends nothing is closed after tcpIdleMs", async () => {
  await withServer(async (t) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.server.port });
    try {
      const started = Date.now();
      assert.equal(await tcpReader(conn)(), undefined);
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2000, `closed after ${took} ms, tcpIdleMs is 300`);
    } finally {
      conn.close();
    }
  }, { tcpIdleMs: 300, tcpQueryMs: 5_000 });
});
