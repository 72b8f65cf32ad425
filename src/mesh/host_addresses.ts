/**
 * The virtual addresses of stack services on this node: /32s on the loopback interface, added
 * with `ip` (iproute2). Only addresses in {@link VIRTUAL_BLOCK} are ever listed or removed.
 * @module
 */
import { inSubnet, VIRTUAL_BLOCK } from "./address.ts";

/** Adds and removes this node's virtual addresses. */
export interface HostAddresses {
  /** The virtual addresses on the node now. */
  list(): Promise<string[]>;
  add(address: string): Promise<void>;
  remove(address: string): Promise<void>;
}

async function ip(args: string[]): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    throw new Error(`cannot run ip (iproute2): ${(err as Error).message}; install iproute2`);
  }
  const text = new TextDecoder();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${text.decode(out.stderr).trim()}`);
  return text.decode(out.stdout);
}

/** Reads `ip -4 -o addr show dev lo`: the virtual addresses in it. */
export function parseVirtual(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\/32\b/g)) {
    if (inSubnet(m[1], VIRTUAL_BLOCK)) out.push(m[1]);
  }
  return out;
}

/** The real {@link HostAddresses}, on `lo`. */
export const loopbackAddresses: HostAddresses = {
  async list() {
    return parseVirtual(await ip(["-4", "-o", "addr", "show", "dev", "lo"]));
  },
  async add(address) {
    try {
      await ip(["addr", "add", `${address}/32`, "dev", "lo"]);
    } catch (err) {
      if (!/exists/i.test((err as Error).message)) throw err;
    }
  },
  async remove(address) {
    try {
      await ip(["addr", "del", `${address}/32`, "dev", "lo"]);
    } catch (err) {
      if (!/Cannot assign|not found|No such/i.test((err as Error).message)) throw err;
    }
  },
};
