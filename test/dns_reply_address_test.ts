/**
 * The DNS server bound to 0.0.0.0 answers every address of its machine from that same address.
 * A network namespace stands for the machine: two IPv4 and two IPv6 addresses on one link, the
 * server and dig both inside it. A reply from the wrong address makes dig wait and fail ("timed
 * out" / "reply from unexpected source"), which is what one wildcard socket did.
 */
import assert from "node:assert/strict";
import { waitFor } from "./helpers/wait.ts";

const NS = `fossora-dns-${crypto.randomUUID().slice(0, 8)}`;
const NSENTER = ["nsenter", `--net=/run/netns/${NS}`];
const SERVER = new URL("./helpers/dns_server.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const NAME = "web.fossora.home.arpa";

async function sh(cmd: string[], check = true): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (check && !out.success) throw new Error(`${cmd.join(" ")} failed: ${text.trim()}`);
  return text;
}

const ip = (...args: string[]) => sh(["ip", "-n", NS, ...args]);

/** dig run inside the namespace, from `source` to `server`. */
function digIn(server: string, port: number, source: string): Promise<string> {
  return sh([
    ...NSENTER,
    "dig",
    "-b",
    source,
    `@${server}`,
    "-p",
    String(port),
    NAME,
    "+short",
    "+tries=1",
    "+time=2",
  ], false);
}

/** A server started inside the namespace; reads its `ready PORT` line. */
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

Deno.test(
  "bound to 0.0.0.0, DNS replies come from the address asked, on both of two addresses",
  async (t) => {
    await sh(["ip", "netns", "add", NS]);
    let server: Awaited<ReturnType<typeof startServer>> | undefined;
    const passed: boolean[] = [];
    try {
      await ip("link", "set", "lo", "up");
      await ip("link", "add", "va", "type", "veth", "peer", "name", "vb");
      await ip("link", "set", "va", "up");
      await ip("link", "set", "vb", "up");
      for (const a of ["10.77.0.1/24", "10.77.0.2/24"]) await ip("addr", "add", a, "dev", "va");
      for (const a of ["fd77::1/64", "fd77::2/64"]) {
        await ip("addr", "add", a, "dev", "va", "nodad");
      }
      server = await startServer();
      const port = server.port;

      passed[0] = await t.step("each IPv4 address answers a client on the other one", async () => {
        for (const [to, from] of [["10.77.0.1", "10.77.0.2"], ["10.77.0.2", "10.77.0.1"]]) {
          const out = await digIn(to, port, from);
          assert.deepEqual(
            out.trim().split("\n").sort(),
            ["10.0.0.1", "10.0.0.2"],
            `${to}: ${out}`,
          );
        }
      });

      passed[1] = await t.step("each IPv6 address answers a client on the other one", async () => {
        for (const [to, from] of [["fd77::1", "fd77::2"], ["fd77::2", "fd77::1"]]) {
          const out = await digIn(to, port, from);
          assert.deepEqual(
            out.trim().split("\n").sort(),
            ["10.0.0.1", "10.0.0.2"],
            `${to}: ${out}`,
          );
        }
      });

      passed[2] = await t.step(
        "an address added while running is answered from itself",
        async () => {
          await ip("addr", "add", "10.77.0.3/24", "dev", "va");
          // Without nodad the kernel checks for duplicates first: unbindable for a while.
          await ip("addr", "add", "fd77::3/64", "dev", "va");
          for (const [to, from] of [["10.77.0.3", "10.77.0.1"], ["fd77::3", "fd77::1"]]) {
            await waitFor(
              `an answer from ${to}`,
              async () => {
                const out = await digIn(to, port, from);
                return out.trim().split("\n").sort().join(" ") === "10.0.0.1 10.0.0.2";
              },
              20_000,
              100,
            );
          }
        },
      );
    } finally {
      const log = await server?.stop();
      await sh(["ip", "netns", "del", NS], false);
      // The server's own account (which addresses it bound, and when) is what explains a failure.
      if (!passed.every(Boolean) || passed.length < 3) console.error(log);
    }
  },
);
