/**
 * A DNS server on its own, for tests that must run it somewhere else than the test process (in
 * another network namespace, under `nsenter`). Serves the DNS tests' sample view.
 *
 * Usage: `deno run -A test/helpers/dns_server.ts HOSTNAME PORT RESCAN_MS [forward]`. Prints
 * `ready PORT` once both transports listen, and stops cleanly on SIGTERM or SIGINT. With
 * `forward`, names outside the zone are forwarded to an upstream this process runs on 127.0.0.1,
 * which answers `www.example.org` with 192.0.2.80.
 * @module
 */
import { DnsServer } from "../../src/dns/server.ts";
import { DOMAIN, sampleView } from "../../src/dns/test_util.ts";
import { TestUpstream } from "../../src/dns/test_upstream.ts";
import { createLogger } from "../../src/util/log.ts";

if (import.meta.main) {
  const [hostname, portText, rescanText, mode] = Deno.args;
  const port = Number(portText);
  const rescanMs = Number(rescanText);
  if (!hostname || !Number.isInteger(port) || !Number.isInteger(rescanMs)) {
    console.error("usage: dns_server.ts HOSTNAME PORT RESCAN_MS [forward] (e.g. 0.0.0.0 0 100)");
    Deno.exit(2);
  }
  const upstream = mode === "forward" ? TestUpstream.start() : undefined;
  upstream?.names.set("www.example.org", { addresses: ["192.0.2.80"], ttl: 300 });
  const server = new DnsServer({
    forward: upstream ? { upstreams: [upstream.address] } : undefined,
    view: sampleView(),
    domain: DOMAIN,
    hostname,
    port,
    rescanMs,
    log: createLogger("dns", { level: "debug" }),
  });
  try {
    await server.start();
  } catch (e) {
    console.error(`dns_server: cannot start: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
  const stop = async () => {
    await server.stop();
    await upstream?.[Symbol.asyncDispose]();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(`ready ${server.port}`);
}
