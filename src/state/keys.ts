/**
 * The etcd keyspace, and the only place that builds key strings. Everything lives under a
 * versioned root so a future layout can sit beside this one during an upgrade.
 * @module
 */

/** Root of every fossora key. */
export const ROOT = "/fossora/v1/";

/** A key family: the prefix of its keys and how ids map to keys and back. */
export interface KeyFamily {
  readonly name: string;
  readonly prefix: string;
  /** Number of id parts in a key of this family. */
  readonly parts: number;
}

function family(name: string, parts: number): KeyFamily {
  return { name, prefix: `${ROOT}${name}/`, parts };
}

/** Every family, as DESIGN.md lists them. */
export const families = {
  cluster: family("cluster", 1),
  nodes: family("nodes", 1),
  services: family("services", 1),
  assignments: family("assignments", 2),
  replicas: family("replicas", 3),
  placement: family("placement", 1),
  election: family("election", 1),
  certs: family("certs", 1),
  /** `events/<id>`: what happened, newest kept (not leased). */
  events: family("events", 1),
  /**
   * `locks/<service>`: the node running a service with volumes holds it on its lease; a copy
   * starts only where it is held, so two never run at once.
   */
  locks: family("locks", 1),
  /**
   * `secrets/<stack>/<kind>:<name>`: the content of a stack's secret or config (kind `secret`
   * or `config`), written by the API with the stack's services, read by the node that mounts
   * it. Never part of the mirror or of any API answer.
   */
  secrets: family("secrets", 2),
  /** `drain/<node id>`: a node drained by a person (not leased). */
  drain: family("drain", 1),
  /** `members/<node id>`: every admitted node, up or down (not leased). */
  members: family("members", 1),
  /**
   * `admission/queue/<node id>`, `admission/current/0`, `admission/log/<seq>`, and
   * `admission/tuning/lock`: held by the member that restarts with new etcd timing.
   */
  admission: family("admission", 2),
  /**
   * `ui/admin`: the web UI's admin password, hashed (scrypt), written once by the first-run
   * page and changed only by a person. Never part of the mirror or of any API answer.
   */
  ui: family("ui", 1),
} as const;

/** An id part must not contain the separator, or keys of two ids could collide. */
function checkPart(part: string): string {
  if (part === "" || part.includes("/")) {
    throw new Error(`invalid key part ${JSON.stringify(part)}`);
  }
  return part;
}

/** The key of one record: `keyOf(families.replicas, node, service, "0")`. */
export function keyOf(f: KeyFamily, ...ids: string[]): string {
  if (ids.length !== f.parts) throw new Error(`${f.name} keys have ${f.parts} parts`);
  return f.prefix + ids.map(checkPart).join("/");
}

/** The prefix of the records whose first ids are these: `prefixOf(families.assignments, svc)`. */
export function prefixOf(f: KeyFamily, ...ids: string[]): string {
  if (ids.length >= f.parts) throw new Error(`${f.name} prefixes have fewer than ${f.parts} parts`);
  return f.prefix + ids.map((id) => checkPart(id) + "/").join("");
}

/** Splits a key into its family and ids; undefined when the key is not one of ours. */
export function parseKey(key: string): { family: KeyFamily; ids: string[] } | undefined {
  if (!key.startsWith(ROOT)) return undefined;
  for (const f of Object.values(families)) {
    if (!key.startsWith(f.prefix)) continue;
    const ids = key.slice(f.prefix.length).split("/");
    return ids.length === f.parts && ids.every((i) => i !== "") ? { family: f, ids } : undefined;
  }
  return undefined;
}
