/**
 * The DNS figure: dnsperf against the agent's DNS server and against dnsmasq answering the same
 * name from its configuration, both asked the same query file.
 * @module
 */
import { freePort } from "../test/helpers/ports.ts";
import { Daemon, run } from "./exec.ts";
import { type DnsperfResult, parseDnsperf } from "./tools.ts";

/** How one dnsperf run is shaped. */
export interface DnsLoad {
  durationS: number;
  clients: number;
}

/** dnsmasq flags: answer `name` with `address` on 127.0.0.1:port, nothing else, no upstream. */
export function dnsmasqArgs(port: number, name: string, address: string): string[] {
  return [
    "--no-daemon",
    "--conf-file=/dev/null",
    "--pid-file=",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    `--address=/${name}/${address}`,
    "--cache-size=10000",
  ];
}

/** The dnsperf arguments for one run against 127.0.0.1:port. */
export function dnsperfArgs(port: number, queryFile: string, load: DnsLoad): string[] {
  return [
    "-s",
    "127.0.0.1",
    "-p",
    String(port),
    "-d",
    queryFile,
    "-l",
    String(load.durationS),
    "-c",
    String(load.clients),
    "-t",
    "2",
  ];
}

/** The query file's text: the A record of `name`. */
export function queryFileText(name: string): string {
  return `${name} A\n`;
}

/** Runs dnsperf once and parses its statistics. */
export async function runDnsperf(
  port: number,
  queryFile: string,
  load: DnsLoad,
): Promise<DnsperfResult> {
  const r = await run("dnsperf", dnsperfArgs(port, queryFile, load), (load.durationS + 20) * 1000);
  if (r.code !== 0) throw new Error(`dnsperf exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return parseDnsperf(r.stdout);
}

/** A warm-up run (not reported) followed by the measured one. */
export async function measureDns(
  port: number,
  queryFile: string,
  load: DnsLoad,
  warmupS: number,
): Promise<DnsperfResult> {
  if (warmupS > 0) await runDnsperf(port, queryFile, { ...load, durationS: warmupS });
  return await runDnsperf(port, queryFile, load);
}

/** The A records 127.0.0.1:port gives for `name`, as dig prints them. */
export async function digA(port: number, name: string): Promise<string[]> {
  const r = await run("dig", [
    "@127.0.0.1",
    "-p",
    String(port),
    name,
    "A",
    "+short",
    "+time=1",
    "+tries=1",
  ], 5_000);
  return r.code === 0 ? r.stdout.trim().split("\n").filter(Boolean) : [];
}

/** Fails unless 127.0.0.1:port answers `name` A with exactly `address`. */
export async function expectA(port: number, name: string, address: string): Promise<void> {
  const got = await digA(port, name);
  if (got.length !== 1 || got[0] !== address) {
    throw new Error(`DNS on 127.0.0.1:${port} answered ${name} A with [${got}], not ${address}`);
  }
}

/** A running reference dnsmasq; disposing it stops it. */
export interface Dnsmasq extends AsyncDisposable {
  port: number;
}

/** Starts dnsmasq on a free loopback port answering `name` with `address`. */
export async function startDnsmasq(name: string, address: string): Promise<Dnsmasq> {
  const port = freePort();
  const daemon = new Daemon("dnsmasq", "dnsmasq", dnsmasqArgs(port, name, address));
  try {
    await daemon.ready(async () => (await digA(port, name)).includes(address));
  } catch (err) {
    await daemon[Symbol.asyncDispose]();
    throw err;
  }
  return { port, [Symbol.asyncDispose]: () => daemon[Symbol.asyncDispose]() };
}

/** The zone the forwarding benchmark's upstream answers: every name under it. */
export const FORWARD_ZONE = "bench-forward.example";
/** The address the upstream gives every name under {@link FORWARD_ZONE}. */
export const FORWARD_ADDRESS = "192.0.2.53";
/** Distinct names asked in the forwarding benchmark, all cached after the warm-up. */
export const FORWARD_NAMES = 20;

/**
 * dnsmasq flags for the forwarding benchmark's upstream: every name under `zone` is `address`,
 * with an hour's TTL (dnsmasq's own answers default to TTL 0, which nothing would cache).
 */
export function upstreamDnsmasqArgs(port: number, zone: string, address: string): string[] {
  return [...dnsmasqArgs(port, zone, address), "--local-ttl=3600"];
}

/** dnsmasq flags for the reference forwarder: no answers of its own, everything to `upstream`. */
export function forwardingDnsmasqArgs(port: number, upstreamPort: number): string[] {
  return [
    "--no-daemon",
    "--conf-file=/dev/null",
    "--pid-file=",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    `--server=127.0.0.1#${upstreamPort}`,
    "--cache-size=10000",
  ];
}

/** The forwarding benchmark's query file: {@link FORWARD_NAMES} names under `zone`, A each. */
export function forwardQueryFileText(zone: string): string {
  return Array.from({ length: FORWARD_NAMES }, (_, i) => `host${i + 1}.${zone} A\n`).join("");
}

/** The upstream and the reference forwarder of the forwarding benchmark. */
export interface ForwardingPair extends AsyncDisposable {
  /** Where the upstream answers, for `--dns-upstream`. */
  upstreamPort: number;
  /** The reference dnsmasq forwarding to it. */
  dnsmasqPort: number;
}

/**
 * Starts the upstream (dnsmasq answering every name under {@link FORWARD_ZONE}) and a second
 * dnsmasq forwarding to it: the reference fossora's forwarding is compared with.
 */
export async function startForwardingPair(): Promise<ForwardingPair> {
  const stack = new AsyncDisposableStack();
  try {
    const upstreamPort = freePort();
    const probe = `host1.${FORWARD_ZONE}`;
    const upstream = stack.use(
      new Daemon(
        "upstream dnsmasq",
        "dnsmasq",
        upstreamDnsmasqArgs(upstreamPort, FORWARD_ZONE, FORWARD_ADDRESS),
      ),
    );
    await upstream.ready(async () => (await digA(upstreamPort, probe)).includes(FORWARD_ADDRESS));
    const dnsmasqPort = freePort();
    const forwarder = stack.use(
      new Daemon("forwarding dnsmasq", "dnsmasq", forwardingDnsmasqArgs(dnsmasqPort, upstreamPort)),
    );
    await forwarder.ready(async () => (await digA(dnsmasqPort, probe)).includes(FORWARD_ADDRESS));
    const owned = stack.move();
    return { upstreamPort, dnsmasqPort, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}
