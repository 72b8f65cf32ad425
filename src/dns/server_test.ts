import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { DnsServer, QUERIES_METRIC } from "./server.ts";
import { RCODE, tcpFrame, TYPE } from "./wire.ts";
import {
  dig,
  queryPacket,
  readResponse,
  sampleView,
  status,
  tcpReader,
  udpAsk,
} from "./test_util.ts";

const domain = "fossora.home.arpa";

async function withServer(
  fn: (s: DnsServer, metrics: Registry, view: ReturnType<typeof sampleView>) => Promise<void>,
  extra: Partial<ConstructorParameters<typeof DnsServer>[0]> = {},
): Promise<void> {
  const metrics = new Registry();
  const view = sampleView();
  const s = new DnsServer({ view, domain, port: 0, hostname: "127.0.0.1", metrics, ...extra });
  await s.start();
  try {
    await fn(s, metrics, view);
  } finally {
    await s.stop();
  }
}

function count(metrics: Registry, result: string): number {
  return metrics.counter(QUERIES_METRIC, "").get({ result });
}

Deno.test("dig gets a service's ready nodes over UDP and TCP", async () => {
  await withServer(async (s, metrics) => {
    for (const transport of ["+notcp", "+tcp"]) {
      const out = await dig(s.port, "WEB.Fossora.Home.Arpa.", "A", "+short", transport);
      assert.deepEqual(out.trim().split("\n").sort(), ["10.0.0.1", "10.0.0.2"], out);
    }
    assert.equal(count(metrics, "noerror"), 2);
  });
});

Deno.test("dig gets a node's address, the SOA, NXDOMAIN and REFUSED", async () => {
  await withServer(async (s, metrics) => {
    assert.equal((await dig(s.port, "beta.node.fossora.home.arpa", "+short")).trim(), "10.0.0.2");
    const soa = await dig(s.port, domain, "SOA", "+short");
    assert.match(soa, /^alpha\.node\.fossora\.home\.arpa\. hostmaster\.fossora\.home\.arpa\. 1 /);
    const nx = await dig(s.port, "nope.fossora.home.arpa", "A");
    assert.equal(status(nx), "NXDOMAIN");
    assert.match(nx, /AUTHORITY SECTION:\s+fossora\.home\.arpa\.\s+5\s+IN\s+SOA/);
    assert.equal(status(await dig(s.port, "web.fossora.home.arpa", "AAAA")), "NOERROR");
    assert.equal(status(await dig(s.port, "example.com", "A")), "REFUSED");
    assert.equal(count(metrics, "nxdomain"), 1);
    assert.equal(count(metrics, "nodata"), 1);
    assert.equal(count(metrics, "refused"), 1);
    assert.equal(count(metrics, "noerror"), 2);
  });
});

Deno.test("garbage on UDP is dropped or FORMERR and the server keeps answering", async () => {
  await withServer(async (s, metrics) => {
    const loop = new Uint8Array([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    const formerr = readResponse(await udpAsk(s.port, loop));
    assert.equal(formerr.rcode, RCODE.FORMERR);
    assert.equal(formerr.id, 9);
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      const to = { transport: "udp" as const, hostname: "127.0.0.1", port: s.port };
      await sock.send(new Uint8Array([1, 2, 3]), to);
      await sock.send(
        crypto.getRandomValues(new Uint8Array(300)).map((b, i) => i === 2 ? b | 0x80 : b),
        to,
      );
    } finally {
      sock.close();
    }
    const r = readResponse(await udpAsk(s.port, queryPacket(42, "db.fossora.home.arpa", TYPE.A)));
    assert.equal(r.id, 42);
    assert.deepEqual(r.answers.map((a) => a.data), ["10.0.0.1", "10.0.0.2"]);
    const deadline = Date.now() + 2000;
    while (count(metrics, "formerr") < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(count(metrics, "formerr"), 3);
  });
});

Deno.test("a truncated TCP message is dropped and the next connection is answered", async () => {
  await withServer(async (s) => {
    const broken = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    try {
      await broken.write(new Uint8Array([0, 100, 1, 2, 3, 4, 5]));
    } finally {
      broken.close();
    }
    const junk = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    try {
      await junk.write(tcpFrame(new Uint8Array([1, 2, 3])));
      assert.equal(await tcpReader(junk)(), undefined, "a frame too short for a header closes");
    } finally {
      junk.close();
    }
    assert.equal(
      (await dig(s.port, "web.fossora.home.arpa", "+tcp", "+short")).trim().split("\n").length,
      2,
    );
  });
});

Deno.test("one TCP connection carries several queries", async () => {
  await withServer(async (s) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    try {
      const both = new Uint8Array([
        ...tcpFrame(queryPacket(1, "web.fossora.home.arpa", TYPE.A)),
        ...tcpFrame(queryPacket(2, "nope.fossora.home.arpa", TYPE.A)),
      ]);
      await conn.write(both);
      const read = tcpReader(conn);
      const first = readResponse((await read())!);
      assert.equal(first.id, 1);
      assert.equal(first.answers.length, 2);
      const second = readResponse((await read())!);
      assert.equal(second.id, 2);
      assert.equal(second.rcode, RCODE.NXDOMAIN);
    } finally {
      conn.close();
    }
  });
});

Deno.test("an idle TCP connection is closed by the server", async () => {
  await withServer(async (s) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    try {
      assert.equal(await tcpReader(conn)(), undefined);
    } finally {
      conn.close();
    }
  }, { tcpIdleMs: 50 });
});

Deno.test("cached answers follow the view once the cache time has passed", async () => {
  let now = 1_000;
  await withServer(async (s, _metrics, view) => {
    const ask = async () =>
      readResponse(await udpAsk(s.port, queryPacket(5, "web.fossora.home.arpa", TYPE.A)))
        .answers.map((a) => a.data);
    assert.deepEqual(await ask(), ["10.0.0.1", "10.0.0.2"]);
    view.nodeMap.get("id-alpha")!.state = "down";
    assert.deepEqual(await ask(), ["10.0.0.1", "10.0.0.2"], "still cached");
    now += 1_001;
    assert.deepEqual(await ask(), ["10.0.0.2"]);
  }, { now: () => now, cacheMs: 1000 });
});

Deno.test("a cached answer carries the new query's id and letter case", async () => {
  await withServer(async (s) => {
    await udpAsk(s.port, queryPacket(1, "web.fossora.home.arpa", TYPE.A));
    const r = readResponse(await udpAsk(s.port, queryPacket(77, "wEb.FOSSORA.home.arpa", TYPE.A)));
    assert.equal(r.id, 77);
    assert.equal(r.question, "wEb.FOSSORA.home.arpa");
    assert.equal(r.answers[0].name, "wEb.FOSSORA.home.arpa");
  });
});

Deno.test("bad options fail with a clear message and a taken port rejects start", async () => {
  const view = sampleView();
  assert.throws(() => new DnsServer({ view, domain: "..", port: 0 }), /not a valid DNS name/);
  assert.throws(() => new DnsServer({ view, domain, port: 70000 }), /0\.\.65535/);
  await withServer(async (s) => {
    const second = new DnsServer({ view, domain, port: s.port, hostname: "127.0.0.1" });
    await assert.rejects(second.start(), Deno.errors.AddrInUse);
  });
});

Deno.test("a query with an opcode other than QUERY is answered NOTIMP and counted", async () => {
  await withServer(async (s, metrics) => {
    const packet = queryPacket(7, "web.fossora.home.arpa", TYPE.A);
    packet[2] = 0x01 | (2 << 3); // opcode STATUS, RD
    const r = readResponse(await udpAsk(s.port, packet));
    assert.equal(r.id, 7);
    assert.equal(r.rcode, 4);
    assert.equal(count(metrics, "notimp"), 1);
  });
});
