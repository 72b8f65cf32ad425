/**
 * DNS labels: the one rule every name a user picks must follow (service, node, volume, site),
 * because each may end up in a host name such as `NAME.DOMAIN`.
 * @module
 */

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** True for a DNS label: a-z, 0-9 and '-', 1..63 characters, no '-' at either end. */
export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}
