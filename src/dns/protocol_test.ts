import assert from "node:assert/strict";
import { RCODE, TYPE } from "./wire.ts";
import {
  addOpt,
  dig,
  DOMAIN,
  node,
  queryPacket,
  readResponse,
  sampleView,
  status,
  udpAsk,
  withServer,
} from "./test_util.ts";

/** Every DNS behaviour below, once per UDP implementation: both must speak the same protocol. */
for (const udp of ["batch", "deno"] as const) {
  Deno.test(`[${udp}] dig +edns=1 gets BADVERS, with an OPT saying version 0`, async () => {
    await withServer(async (t) => {
      const out = await dig(t.server.port, `web.${DOMAIN}`, "+edns=1", "+noednsnegotiation");
      assert.equal(status(out), "BADVERS", out);
      assert.match(out, /; EDNS: version: 0, flags:; udp: 1232/);
      assert.match(out, /ANSWER: 0,/);
      assert.equal(t.count("badvers"), 1);
      // dig's default: on BADVERS it asks again with version 0, which is answered.
      const retried = await dig(t.server.port, `web.${DOMAIN}`, "+edns=1", "+short");
      assert.deepEqual(retried.trim().split("\n").sort(), ["10.0.0.1", "10.0.0.2"], retried);
    }, { udp });
  });

  Deno.test(`[${udp}] dig +dnssec sees its DO bit copied into the answer's OPT`, async () => {
    await withServer(async (t) => {
      for (const transport of ["+notcp", "+tcp"]) {
        const out = await dig(t.server.port, `web.${DOMAIN}`, "+dnssec", transport);
        assert.equal(status(out), "NOERROR", out);
        assert.match(out, /; EDNS: version: 0, flags: do; udp: 1232/, transport);
        const plain = await dig(t.server.port, `web.${DOMAIN}`, transport);
        assert.match(plain, /; EDNS: version: 0, flags:; udp: 1232/, transport);
      }
    }, { udp });
  });

  Deno.test(`[${udp}] a query with two OPT records is FORMERR, question echoed`, async () => {
    await withServer(async (t) => {
      // dig cannot send two OPTs: the query is built by hand, the server is the real one.
      const twice = addOpt(addOpt(queryPacket(21, `web.${DOMAIN}`, TYPE.A)));
      const r = readResponse(await udpAsk(t.server.port, twice));
      assert.equal(r.id, 21);
      assert.equal(r.rcode, RCODE.FORMERR);
      assert.equal(r.question, `web.${DOMAIN}`);
      assert.deepEqual([r.answers, r.additional], [[], []]);
      assert.equal(t.count("formerr"), 1);
      const out = await dig(t.server.port, `web.${DOMAIN}`, "+short");
      assert.equal(out.trim().split("\n").length, 2, "still answering");
    }, { udp });
  });

  Deno.test(`[${udp}] dig AXFR and IXFR are refused`, async () => {
    await withServer(async (t) => {
      const axfr = await dig(t.server.port, DOMAIN, "AXFR");
      assert.match(axfr, /Transfer failed/);
      assert.doesNotMatch(axfr, /\bIN\s+(SOA|NS|A)\b/, "no record leaves in a transfer");
      const ixfr = await dig(t.server.port, DOMAIN, "IXFR=1");
      assert.match(ixfr, /Transfer failed/);
      await dig(t.server.port, DOMAIN, "IXFR=1", "+notcp");
      assert.equal(t.count("refused"), 3);
      for (const type of [TYPE.AXFR, TYPE.IXFR]) {
        const r = readResponse(await udpAsk(t.server.port, queryPacket(8, DOMAIN, type)));
        assert.equal(r.rcode, RCODE.REFUSED, `type ${type}`);
        assert.deepEqual(r.answers, []);
      }
    }, { udp });
  });

  Deno.test(`[${udp}] dig NS without EDNS: glue that does not fit is dropped, no TC`, async () => {
    const view = sampleView();
    for (let i = 0; i < 12; i++) {
      const n = node(`server-${i}`, `10.1.0.${i}`);
      n.addresses6 = [`fd00::${i}:1`, `fd00::${i}:2`];
      view.nodeMap.set(n.id, n);
    }
    await withServer(
      async (t) => {
        // +ignore shows the UDP answer as it came, instead of retrying over TCP on TC.
        const out = await dig(t.server.port, DOMAIN, "NS", "+noedns", "+ignore");
        assert.equal(status(out), "NOERROR", out);
        const flags = /;; flags: ([a-z ]+);/.exec(out)?.[1].split(" ");
        assert.ok(flags && !flags.includes("tc"), `no TC: ${flags}`);
        assert.match(out, /ANSWER: 14,/, "every name server");
        const additional = Number(/ADDITIONAL: (\d+)/.exec(out)?.[1]);
        assert.ok(additional > 0 && additional < 14 * 3 - 2, `some glue: ${additional}`);
        assert.match(out, /MSG SIZE {2}rcvd: (\d+)/);
        assert.ok(Number(/MSG SIZE {2}rcvd: (\d+)/.exec(out)![1]) <= 512);
        const tcp = await dig(t.server.port, DOMAIN, "NS", "+tcp");
        assert.match(tcp, /ADDITIONAL: 39$/m, "over TCP all the glue fits (38 and the OPT)");
      },
      { udp },
      view,
    );
  });

  Deno.test(`[${udp}] dig AAAA gets nodes' IPv6 addresses for a service and a node`, async () => {
    const view = sampleView();
    view.nodeMap.get("id-alpha")!.addresses6 = ["fd00::1"];
    view.nodeMap.get("id-Beta")!.addresses6 = ["fd00::2", "2001:db8::2"];
    await withServer(
      async (t) => {
        const service = await dig(t.server.port, `web.${DOMAIN}`, "AAAA", "+short");
        assert.deepEqual(service.trim().split("\n"), ["fd00::1", "fd00::2", "2001:db8::2"]);
        const beta = await dig(t.server.port, `beta.node.${DOMAIN}`, "AAAA", "+short", "+tcp");
        assert.deepEqual(beta.trim().split("\n"), ["fd00::2", "2001:db8::2"]);
        const a = await dig(t.server.port, `beta.node.${DOMAIN}`, "A", "+short");
        assert.equal(a.trim(), "10.0.0.2", "A unchanged");
        const none = await dig(t.server.port, `gamma.node.${DOMAIN}`, "AAAA");
        assert.equal(status(none), "NOERROR");
        assert.match(none, /ANSWER: 0,/);
        const ns = await dig(t.server.port, DOMAIN, "NS");
        assert.match(ns, /beta\.node\.fossora\.home\.arpa\.\s+5\s+IN\s+AAAA\s+fd00::2/);
      },
      { udp },
      view,
    );
  });
}
