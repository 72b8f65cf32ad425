/**
 * Who may use a node as a resolver, judged on real sockets by the address a query comes from: a
 * network namespace holds the server with a home (RFC 1918) address and a public one; dig from the
 * home address gets an internet name forwarded, dig from the public address gets REFUSED for it,
 * and both get the cluster's own names.
 */
import assert from "node:assert/strict";
import { waitFor } from "./helpers/wait.ts";

const NS = `fossora-rec-${crypto.randomUUID().slice(0, 8)}`;
const NSENTER = ["nsenter", `--net=/run/netns/${NS}`];
const SERVER = new URL("./helpers/dns_server.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const HOME = "10.78.0.1";
/** TEST-NET-2: a public address as far as the server can tell. */
const PUBLIC = "198.51.100.1";

async function sh(cmd: string[], check = true): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (check && !out.success) throw new Error(`${cmd.join(" ")} failed: ${text.trim()}`);
  return text;
}

const ip = (...args: string[]) => sh(["ip", "-n", NS, ...args]);

/** dig inside the namespace, from and to `address`, over UDP or TCP. */
function digFrom(address: string, port: number, name: string, tcp: boolean): Promise<string> {
  return sh([
    ...NSENTER,
    "dig",
    "-b",
    address,
    `@${address}`,
    "-p",
    String(port),
    name,
    "A",
    tcp ? "+tcp" : "+notcp",
    "+tries=1",
    "+time=3",
  ], false);
}

const status = (out: string) => /status: ([A-Z]+)/.exec(out)?.[1];

/** The forwarding server started inside the namespace; reads its `ready PORT` line. */
async function startServer(): Promise<{ port: number; stop: () => Promise<string> }> {
  const child = new Deno.Command(NSENTER[0], {
    args: [
      ...NSENTER.slice(1),
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      CONFIG,
      SERVER,
      "0.0.0.0",
      "0",
      "100",
      "forward",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (s) => void (log += s) }),
  );
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.stdout.cancel().catch(() => {});
    await child.status;
    await stderr.catch(() => {});
    return log;
  };
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const port = await waitFor(
      "the server's ready line",
      async () => {
        const { value, done } = await reader.read();
        if (done) throw new Error(`server exited: ${log}`);
        out += value;
        const m = /ready (\d+)/.exec(out);
        return m ? Number(m[1]) : undefined;
      },
      30_000,
      0,
    );
    reader.releaseLock();
    return { port, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

Deno.test("names outside the zone are forwarded for a home address and REFUSED to a public one", async () => {
  await sh(["ip", "netns", "add", NS]);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let ok = false;
  try {
    await ip("link", "set", "lo", "up");
    await ip("link", "add", "va", "type", "veth", "peer", "name", "vb");
    await ip("link", "set", "va", "up");
    await ip("link", "set", "vb", "up");
    await ip("addr", "add", `${HOME}/24`, "dev", "va");
    await ip("addr", "add", `${PUBLIC}/24`, "dev", "va");
    server = await startServer();
    const port = server.port;
    for (const tcp of [false, true]) {
      const home = await waitFor("an answer on the home address", async () => {
        const out = await digFrom(HOME, port, "www.example.org", tcp);
        return status(out) ? out : undefined;
      }, 10_000);
      assert.equal(status(home), "NOERROR", home);
      assert.match(home, /www\.example\.org\.\s+\d+\s+IN\s+A\s+192\.0\.2\.80/);
      const away = await digFrom(PUBLIC, port, "www.example.org", tcp);
      assert.equal(status(away), "REFUSED", away);
      assert.doesNotMatch(away, /192\.0\.2\.80/);
      const zone = await digFrom(PUBLIC, port, "web.fossora.home.arpa", tcp);
      assert.equal(status(zone), "NOERROR", zone);
      assert.match(zone, /IN\s+A\s+10\.0\.0\.1/);
    }
    ok = true;
  } finally {
    const log = await server?.stop();
    await sh(["ip", "netns", "del", NS], false);
    if (!ok) console.error(log);
  }
});
