/**
 * Lines added to a container's `/etc/hosts` (`docker run --add-host NAME:ADDRESS`): a host
 * name and an IP address, or `host-gateway` for the node's own address on Docker's bridge.
 * @module
 */
import { isIP } from "node:net";
import { entries, expected, indexPath, isMapping, keyPath, type Problems } from "./problems.ts";

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;

/** Docker's word for the node's address on the default bridge. */
export const HOST_GATEWAY = "host-gateway";

/**
 * `NAME:ADDRESS` as Docker takes it, from a name and an address; or the reason it is not one.
 * An IPv6 address may be written in brackets.
 */
export function extraHost(name: string, address: string): { value: string } | { problem: string } {
  const addr = address.replace(/^\[(.*)\]$/, "$1");
  if (!HOST_NAME.test(name)) {
    return { problem: `'${name}' is not a host name; use letters, digits, '.', '-' and '_'` };
  }
  if (addr !== HOST_GATEWAY && isIP(addr) === 0) {
    return {
      problem: `'${address}' is not an IP address; write one such as 192.168.1.10, ` +
        `or ${HOST_GATEWAY} for the node itself`,
    };
  }
  return { value: `${name}:${addr}` };
}

/**
 * `NAME:ADDRESS` from a line written `NAME:ADDRESS` or `NAME=ADDRESS` (compose's two forms),
 * or the reason it is not one.
 */
export function parseExtraHost(text: string): { value: string } | { problem: string } {
  const sep = /^[^:=]*([:=])/.exec(text);
  if (!sep) return { problem: `'${text}' is not NAME:ADDRESS; write e.g. nas.lan:192.168.1.10` };
  const at = sep[0].length - 1;
  return extraHost(text.slice(0, at).trim(), text.slice(at + 1).trim());
}

/**
 * Checks extra hosts given as a list of `NAME:ADDRESS` or a mapping of name to address;
 * returns them as Docker takes them when every one is valid.
 */
export function checkExtraHosts(value: unknown, path: string, out: Problems): string[] | undefined {
  const before = out.length;
  const found: string[] = [];
  const take = (r: { value: string } | { problem: string }, at: string) =>
    "value" in r ? found.push(r.value) : out.push({ path: at, message: r.problem });
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = indexPath(path, i);
      if (typeof item !== "string") {
        out.push({
          path: at,
          message: expected("NAME:ADDRESS such as nas.lan:192.168.1.10", item),
        });
      } else take(parseExtraHost(item), at);
    });
  } else if (isMapping(value)) {
    for (const [name, addr] of entries(value)) {
      const at = keyPath(path, name);
      if (typeof addr !== "string") {
        out.push({ path: at, message: expected("an IP address such as 192.168.1.10", addr) });
      } else take(extraHost(name, addr), at);
    }
  } else {
    out.push({ path, message: expected("a list such as [nas.lan:192.168.1.10]", value) });
  }
  return out.length === before ? found : undefined;
}
