/**
 * IPv6 address text, read strictly: DNS writes these bytes into AAAA records and the config
 * checks addresses with the same rule, so both agree on what an address is.
 * @module
 */

const GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * The 16 bytes of an IPv6 address in text form (`fd00::1`, `::ffff:192.0.2.1`); undefined for
 * anything else, including a zone suffix (`%eth0`), which names a link, not an address.
 */
export function ipv6Bytes(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const out = new Uint8Array(16);
  const words: number[] = [];
  const groups = [...head, ...tail];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    // A dotted quad may only end the address, where it stands for the last 32 bits.
    if (i === groups.length - 1 && g.includes(".")) {
      const v4 = dottedQuad(g);
      if (!v4) return undefined;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (GROUP.test(g)) {
      words.push(parseInt(g, 16));
    } else {
      return undefined;
    }
  }
  const tailWords = tail.length + (tail.at(-1)?.includes(".") ? 1 : 0);
  const headWords = words.length - tailWords;
  if (halves.length === 1 ? words.length !== 8 : words.length > 7) return undefined;
  for (let i = 0; i < headWords; i++) put(out, i, words[i]);
  for (let i = 0; i < tailWords; i++) put(out, 8 - tailWords + i, words[headWords + i]);
  return out;
}

/** True for an IPv6 address that {@link ipv6Bytes} reads. */
export function isIPv6(text: string): boolean {
  return ipv6Bytes(text) !== undefined;
}

function put(out: Uint8Array, word: number, value: number): void {
  out[word * 2] = value >> 8;
  out[word * 2 + 1] = value & 0xff;
}

function dottedQuad(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : 256));
  return out.every((n) => n <= 255) ? out : undefined;
}
