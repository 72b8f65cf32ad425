import assert from "node:assert/strict";
import { waitFor } from "../../test/helpers/wait.ts";
import type { LocalInterface } from "./addresses.ts";
import { listenAddresses } from "./addresses.ts";
import { createLogger } from "../util/log.ts";
import { DnsServer } from "./server.ts";
import { digAt, DOMAIN, sampleView, status, withServer } from "./test_util.ts";

const v4 = (address: string): LocalInterface => ({ family: "IPv4", address, scopeid: null });
const v6 = (address: string, scopeid = 0): LocalInterface => ({ family: "IPv6", address, scopeid });

/** The two addresses dig answers for, or the error it printed. */
async function answers(server: string, port: number, ...args: string[]): Promise<string> {
  const out = await digAt(server, port, `web.${DOMAIN}`, "+short", ...args);
  return out.trim().split("\n").sort().join(" ");
}

const BOTH = "10.0.0.1 10.0.0.2";

Deno.test("listenAddresses takes every address once, link-local IPv6 with its interface", () => {
  assert.deepEqual(
    listenAddresses([
      v4("127.0.0.1"),
      v4("192.168.1.5"),
      v4("192.168.1.5"),
      v6("::1"),
      v6("fd00::2"),
      v6("fe80::1", 4),
      v6("fe80::1", 7),
      v6("fe80::2", 0),
      v6("not an address"),
    ]),
    ["127.0.0.1", "192.168.1.5", "::1", "fd00::2", "fe80::1%4", "fe80::1%7"],
  );
});

for (const udp of ["batch", "deno"] as const) {
  Deno.test(`[${udp}] bound to 0.0.0.0, UDP follows addresses as they come and go`, async () => {
    let list = [v4("127.0.0.1"), v6("::1")];
    await withServer(async (t) => {
      const port = t.server.port;
      assert.deepEqual(t.server.udpAddresses, ["127.0.0.1", "::1"]);
      assert.equal(await answers("127.0.0.1", port), BOTH);
      assert.equal(await answers("::1", port), BOTH);
      assert.notEqual(await answers("127.0.0.2", port), BOTH, "no socket on 127.0.0.2 yet");

      list = [...list, v4("127.0.0.2")];
      await waitFor(
        "a socket on 127.0.0.2",
        () => t.server.udpAddresses.includes("127.0.0.2"),
        5000,
      );
      assert.equal(await answers("127.0.0.2", port), BOTH);

      list = list.filter((i) => i.address !== "127.0.0.1");
      await waitFor("127.0.0.1 closed", () => !t.server.udpAddresses.includes("127.0.0.1"), 5000);
      assert.match(await answers("127.0.0.1", port), /connection refused|timed out/);
      assert.equal(await answers("127.0.0.1", port, "+tcp"), BOTH, "TCP is on the wildcard");
      assert.equal(await answers("127.0.0.2", port), BOTH);
    }, { hostname: "0.0.0.0", udp, interfaces: () => list, rescanMs: 20 });
  });
}

Deno.test("an address that cannot be bound is skipped, noted once, and the rest serve", async () => {
  // 192.0.2.77 (TEST-NET-1) is not on this machine, so binding it fails at every rescan.
  const list = [v4("127.0.0.1"), v4("192.0.2.77")];
  const lines: string[] = [];
  let calls = 0;
  await withServer(async (t) => {
    assert.deepEqual(t.server.udpAddresses, ["127.0.0.1"]);
    const seen = calls;
    await waitFor("a few rescans", () => calls > seen + 3, 5000);
    assert.deepEqual(t.server.udpAddresses, ["127.0.0.1"]);
    assert.equal(await answers("127.0.0.1", t.server.port), BOTH);
    const noted = lines.filter((l) => l.includes("192.0.2.77"));
    assert.equal(noted.length, 1, noted.join("\n"));
    assert.match(noted[0], /cannot listen on an address yet/);
  }, {
    hostname: "0.0.0.0",
    interfaces: () => (calls++, list),
    rescanMs: 20,
    log: createLogger("dns", { level: "debug", sink: (l) => lines.push(l) }),
  });
});

Deno.test("a failing interface list keeps the sockets open", async () => {
  let fail = false;
  let failures = 0;
  await withServer(async (t) => {
    fail = true;
    await waitFor("a failed rescan", () => failures > 1, 5000);
    assert.deepEqual(t.server.udpAddresses, ["127.0.0.1"]);
    assert.equal(await answers("127.0.0.1", t.server.port), BOTH);
  }, {
    hostname: "0.0.0.0",
    interfaces: () => {
      if (fail) throw (failures++, new Error("netlink said no"));
      return [v4("127.0.0.1")];
    },
    rescanMs: 20,
  });
});

Deno.test("an interface list failing at start leaves one wildcard socket that answers", async () => {
  await withServer(async (t) => {
    assert.deepEqual(t.server.udpAddresses, ["0.0.0.0"]);
    assert.equal(await answers("127.0.0.1", t.server.port), BOTH);
    assert.equal(await answers("127.0.0.1", t.server.port, "+tcp"), BOTH);
  }, {
    hostname: "0.0.0.0",
    interfaces: () => {
      throw new Deno.errors.NotCapable('Requires sys access to "networkInterfaces"');
    },
    rescanMs: 20,
  });
});

Deno.test("a specific bind address keeps one socket and never reads the interfaces", async () => {
  let calls = 0;
  await withServer(async (t) => {
    assert.deepEqual(t.server.udpAddresses, ["127.0.0.1"]);
    assert.equal(await answers("127.0.0.1", t.server.port), BOTH);
    assert.equal(calls, 0);
  }, { interfaces: () => (calls++, [v4("127.0.0.2")]), rescanMs: 20 });
});

Deno.test("dig over IPv6: a server on ::1, and one on :: with the real interface list", async (t) => {
  await t.step("on ::1, UDP and TCP", async () => {
    await withServer(async (s) => {
      assert.equal(await answers("::1", s.server.port), BOTH);
      assert.equal(await answers("::1", s.server.port, "+tcp"), BOTH);
    }, { hostname: "::1" });
  });
  await t.step("on ::, every local address over UDP, both families over TCP", async () => {
    await withServer(async (s) => {
      const expected = listenAddresses(Deno.networkInterfaces());
      assert.ok(expected.includes("127.0.0.1") && expected.includes("::1"), `${expected}`);
      // Addresses still checked for duplicates (fresh IPv6) are bound at a later rescan.
      for (const a of expected.filter((a) => !a.startsWith("fe80"))) {
        assert.ok(s.server.udpAddresses.includes(a), `${a} in ${s.server.udpAddresses}`);
      }
      for (const server of ["127.0.0.1", "::1"]) {
        assert.equal(await answers(server, s.server.port), BOTH, server);
        assert.equal(await answers(server, s.server.port, "+tcp"), BOTH, `${server} tcp`);
      }
    }, { hostname: "::" });
  });
});

Deno.test("both UDP implementations start; auto picks batched system calls here", async () => {
  await withServer((t) => {
    assert.equal(t.server.udpKind, "batch");
    return Promise.resolve();
  });
  await withServer(async (t) => {
    assert.equal(t.server.udpKind, "deno");
    assert.equal(status(await digAt("127.0.0.1", t.server.port, `web.${DOMAIN}`)), "NOERROR");
  }, { udp: "deno" });
});

Deno.test("bad listen options are refused with a message naming them", () => {
  const view = sampleView();
  const base = { view, domain: DOMAIN, port: 0 };
  assert.throws(() => new DnsServer({ ...base, hostname: "localhost" }), /must be an IP address/);
  assert.throws(() => new DnsServer({ ...base, rescanMs: 0 }), /rescanMs 0 must be a whole/);
  assert.throws(() => new DnsServer({ ...base, tcpQueryMs: 1.5 }), /tcpQueryMs 1.5/);
  assert.throws(() => new DnsServer({ ...base, cacheMs: -1 }), /cacheMs -1/);
});

Deno.test("a taken port on one of the addresses rejects start and leaves nothing open", async () => {
  const taken = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.2", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const server = new DnsServer({
      view: sampleView(),
      domain: DOMAIN,
      port,
      hostname: "0.0.0.0",
      interfaces: () => [v4("127.0.0.1"), v4("127.0.0.2")],
    });
    await assert.rejects(server.start(), Deno.errors.AddrInUse);
    await server.stop();
    // Everything the failed start opened is closed again: the port is free on 127.0.0.1.
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
  } finally {
    taken.close();
  }
});
