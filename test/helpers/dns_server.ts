/**
 * A DNS server on its own, for tests that must run it somewhere else than the test process (in
 * another network namespace, under `nsenter`). Serves the DNS tests' sample view.
 *
 * Usage: `deno run -A test/helpers/dns_server.ts HOSTNAME PORT RESCAN_MS`. Prints `ready PORT`
 * once both transports listen, and stops cleanly on SIGTERM or SIGINT.
 * @module
 */
import { DnsServer } from "../../src/dns/server.ts";
import { DOMAIN, sampleView } from "../../src/dns/test_util.ts";
import { createLogger } from "../../src/util/log.ts";

if (import.meta.main) {
  const [hostname, portText, rescanText] = Deno.args;
  const port = Number(portText);
  const rescanMs = Number(rescanText);
  if (!hostname || !Number.isInteger(port) || !Number.isInteger(rescanMs)) {
    console.error("usage: dns_server.ts HOSTNAME PORT RESCAN_MS (e.g. 0.0.0.0 0 100)");
    Deno.exit(2);
  }
  const server = new DnsServer({
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
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(`ready ${server.port}`);
}
