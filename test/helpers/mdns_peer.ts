/**
 * One node's mDNS discovery, for test/mdns_test.ts: run inside a network namespace, it starts an
 * MdnsDiscovery with the options given as JSON in its first argument and prints JSON lines on
 * stdout: `{"event":"ready"}`, then one `{"event":"added"|"updated"|"removed","candidate":...}`
 * per change, `{"event":"list","candidates":[...],"stats":{...}}` when asked, `{"event":"stopped"}` last.
 * Commands on stdin, one a line: `cluster ID` (or `cluster` for none), `list`, `stop`.
 * @module
 */
import { MdnsDiscovery, type MdnsDiscoveryOptions } from "../../src/discovery/mdns.ts";
import { createLogger } from "../../src/util/log.ts";

const options = JSON.parse(Deno.args[0]) as MdnsDiscoveryOptions;
const encoder = new TextEncoder();
const print = (v: unknown) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(v) + "\n"));

const discovery = new MdnsDiscovery({
  ...options,
  log: createLogger(`mdns-${options.name}`, { level: "debug" }),
  onChange: (c) => print({ event: c.kind, candidate: c.candidate }),
});

let stopping: Promise<void> | undefined;
const stop = () =>
  stopping ??= discovery.stop().then(() => {
    print({ event: "stopped" });
    Deno.exit(0);
  });
Deno.addSignalListener("SIGTERM", () => void stop());

await discovery.start();
print({ event: "ready" });

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buffered = "";
for await (const chunk of lines) {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const [cmd, arg] = buffered.slice(0, nl).trim().split(/\s+/);
    buffered = buffered.slice(nl + 1);
    if (cmd === "cluster") discovery.setClusterId(arg);
    else if (cmd === "list") {
      print({ event: "list", candidates: discovery.candidates(), stats: discovery.stats() });
    } else if (cmd === "stop") await stop();
  }
}
await stop(); // stdin closed: the test went away
