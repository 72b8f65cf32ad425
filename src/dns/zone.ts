/**
 * What the cluster's zone says about one name: the decision part of the DNS server, a pure
 * function of the view and the question, so it is tested without sockets.
 * @module
 */
import { type ClusterView, isStackName, serviceByName } from "../state/view.ts";
import type { NodeRecord } from "../state/types.ts";
import { ipv6Bytes } from "../util/ip.ts";
import { isDnsLabel } from "../util/names.ts";
import { ipv4Bytes, RCODE, type Record, type Reply, TYPE } from "./wire.ts";

/** The label under the apex that holds node names: `NODENAME.node.DOMAIN`. */
export const NODE_LABEL = "node";

/** How a query was answered, as counted in `fossora_dns_queries_total{result}`. */
export type Result =
  | "noerror"
  | "nxdomain"
  | "refused"
  | "formerr"
  | "nodata"
  | "notimp"
  | "badvers"
  | "forwarded";

/** A reply and the result it counts as. */
export interface Resolution {
  reply: Reply;
  result: Result;
}

/** The zone: its apex (lower-case, no trailing dot) and the TTL of every record. */
export interface Zone {
  apex: string;
  ttl: number;
  /**
   * Ids of nodes this node has stopped hearing (their heartbeats): left out of answers while
   * their records stay, as when etcd has no quorum to drop them. Never leaves out every node.
   */
  silent?: () => ReadonlySet<string>;
}

/** Normalises a domain as the zone apex: lower-case, without dots at either end. */
export function zoneApex(domain: string): string {
  return domain.trim().toLowerCase().replace(/^\.+|\.+$/g, "");
}

/** Answers one question (name already lower-cased, as `parseQuery` gives it). */
export function resolve(view: ClusterView, zone: Zone, name: string, type: number): Resolution {
  // The zone is made from the live cluster view on every query: there is nothing to transfer,
  // and a secondary holding a copy would answer with nodes that have gone.
  if (type === TYPE.AXFR || type === TYPE.IXFR) return refused();
  if (name === zone.apex) return answerApex(view, zone, type);
  const suffix = "." + zone.apex;
  if (!name.endsWith(suffix)) return refused();
  const rest = name.slice(0, name.length - suffix.length);
  const dot = rest.indexOf(".");
  if (dot >= 0 && rest.slice(dot + 1) === NODE_LABEL) {
    return answerNode(view, zone, rest.slice(0, dot), type);
  }
  return answerService(view, zone, rest, type);
}

/** The answer outside our zone: we are not a resolver. */
function refused(): Resolution {
  return {
    reply: { rcode: RCODE.REFUSED, aa: false, answers: [], authority: [], additional: [] },
    result: "refused",
  };
}

function answerService(view: ClusterView, zone: Zone, label: string, type: number): Resolution {
  if (!serviceByName(view, label)) {
    // `node.DOMAIN` exists as the parent of node names even when no service has that name, and
    // a stack's name as the parent of its services' names (`web.STACK.DOMAIN`).
    const parent = label === NODE_LABEL || isStackName(view, label);
    return negative(view, zone, parent ? RCODE.NOERROR : RCODE.NXDOMAIN);
  }
  return positive(
    view,
    zone,
    addressRecords(`${label}.${zone.apex}`, readyNodes(view, zone), type),
  );
}

function answerNode(view: ClusterView, zone: Zone, label: string, type: number): Resolution {
  const node = view.nodes().find((n) => n.name.toLowerCase() === label);
  if (!node) return negative(view, zone, RCODE.NXDOMAIN);
  return positive(view, zone, addressRecords(nodeName(node, zone), [node], type));
}

/** The A and/or AAAA records (as `type` asks) of `nodes` under one name, each address once. */
function addressRecords(name: string, nodes: NodeRecord[], type: number): Record[] {
  const out: Record[] = [];
  const seen = new Set<string>();
  if (type === TYPE.A || type === TYPE.ANY) {
    for (const n of nodes) {
      const address = ipv4Bytes(n.address);
      if (!address || seen.has(n.address)) continue;
      seen.add(n.address);
      out.push({ type: TYPE.A, name, address });
    }
  }
  if (type === TYPE.AAAA || type === TYPE.ANY) {
    for (const n of nodes) {
      for (const text of ipv6Addresses(n)) {
        const address = ipv6Bytes(text);
        const key = address?.join(",");
        if (!address || !key || seen.has(key)) continue;
        seen.add(key);
        out.push({ type: TYPE.AAAA, name, address });
      }
    }
  }
  return out;
}

/** A node's IPv6 addresses; records from other agents are not trusted to have the field right. */
function ipv6Addresses(node: NodeRecord): string[] {
  const list: unknown = node.addresses6;
  return Array.isArray(list) ? list.filter((a): a is string => typeof a === "string") : [];
}

/** SOA and NS live at the apex; the name servers are the ready nodes, their addresses as glue. */
function answerApex(view: ClusterView, zone: Zone, type: number): Resolution {
  const answers: Record[] = [];
  let additional: Record[] = [];
  if (type === TYPE.SOA || type === TYPE.ANY) answers.push(soa(view, zone));
  if (type === TYPE.NS || type === TYPE.ANY) {
    const servers = nameServers(view, zone);
    answers.push(...servers.map((s) => s.ns));
    additional = servers.flatMap((s) => s.glue);
  }
  const r = positive(view, zone, answers);
  r.reply.additional = additional;
  return r;
}

/** NOERROR with answers, or NODATA (SOA in authority) when there are none. */
function positive(view: ClusterView, zone: Zone, answers: Record[]): Resolution {
  if (answers.length === 0) return negative(view, zone, RCODE.NOERROR);
  return {
    reply: { rcode: RCODE.NOERROR, aa: true, answers, authority: [], additional: [] },
    result: "noerror",
  };
}

/** NXDOMAIN or NODATA, with the SOA in authority so resolvers cache the miss for one TTL. */
function negative(view: ClusterView, zone: Zone, rcode: number): Resolution {
  return {
    reply: { rcode, aa: true, answers: [], authority: [soa(view, zone)], additional: [] },
    result: rcode === RCODE.NXDOMAIN ? "nxdomain" : "nodata",
  };
}

function soa(view: ClusterView, zone: Zone): Record {
  const first = readyNodes(view, zone)[0];
  return {
    type: TYPE.SOA,
    name: zone.apex,
    primary: first ? nodeName(first, zone) : zone.apex,
    admin: `hostmaster.${zone.apex}`,
    // Nothing transfers this zone, so the serial only has to be valid, not to move.
    serial: 1,
    minimum: zone.ttl,
  };
}

function nameServers(view: ClusterView, zone: Zone): { ns: Record; glue: Record[] }[] {
  return readyNodes(view, zone).map((n) => {
    const target = nodeName(n, zone);
    return {
      ns: { type: TYPE.NS, name: zone.apex, target },
      glue: addressRecords(target, [n], TYPE.ANY),
    };
  });
}

function nodeName(node: NodeRecord, zone: Zone): string {
  return `${node.name.toLowerCase()}.${NODE_LABEL}.${zone.apex}`;
}

/**
 * Nodes that serve traffic now, and whose names can be written as a DNS label; those the zone
 * says are silent are left out, unless that would leave none (an answer that may work is better
 * than no answer).
 */
function readyNodes(view: ClusterView, zone: Zone): NodeRecord[] {
  const ready = view.nodes().filter((n) => n.state === "ready" && isDnsLabel(n.name.toLowerCase()));
  const silent = zone.silent?.();
  if (!silent?.size) return ready;
  const heard = ready.filter((n) => !silent.has(n.id));
  return heard.length ? heard : ready;
}
