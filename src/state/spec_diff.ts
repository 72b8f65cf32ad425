/**
 * How two versions of a service's spec differ: whether they are the same, whether they make the
 * same containers (else replicas roll), and which fields changed, for a preview before a deploy.
 * @module
 */
import type { ServiceSpec } from "./types.ts";

/** One field that changes, with its values before and after as short JSON. */
export interface SpecChange {
  /** `image`, `ports[0].container`, `environment.TZ`… */
  path: string;
  before?: string;
  after?: string;
}

/** True when two specs are the same, key order aside. */
export function sameSpec(a: ServiceSpec, b: ServiceSpec): boolean {
  return canonical(a) === canonical(b);
}

/**
 * True when two specs make the same containers: the number of replicas and where they may run
 * are the scheduler's business, and whether http:// redirects to https:// (`httpsRedirect`) is
 * the proxy's (as is being its stack's front), so scaling, moving or redirecting keeps the
 * generation and running replicas.
 */
export function sameContainers(a: ServiceSpec, b: ServiceSpec): boolean {
  return canonical(containerFields(a)) === canonical(containerFields(b));
}

/** The part of a spec its containers are made from. */
function containerFields(spec: ServiceSpec): unknown {
  const { replicas: _r, placement: _p, resources: _x, front: _f, ports, ...rest } = spec;
  return {
    ...rest,
    ports: ports.map(({ httpsRedirect: _h, detectHttp: _d, ...port }) => port),
  };
}

/** The most changes listed for one service; a preview of more helps nobody. */
const MAX_CHANGES = 50;
/** Values longer than this are cut in a change. */
const MAX_VALUE = 80;

/** The fields that differ from `before` to `after`, leaves first found first, at most 50. */
export function specChanges(before: ServiceSpec, after: ServiceSpec): SpecChange[] {
  const changes: SpecChange[] = [];
  walk(JSON.parse(canonical(before)), JSON.parse(canonical(after)), "", changes);
  return changes.slice(0, MAX_CHANGES);
}

function walk(a: unknown, b: unknown, path: string, out: SpecChange[]): void {
  if (out.length >= MAX_CHANGES || canonical(a) === canonical(b)) return;
  if (isObject(a) && isObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      walk(
        a[key],
        b[key],
        /^[A-Za-z_][\w-]*$/.test(key) ? join(path, key) : `${path}[${JSON.stringify(key)}]`,
        out,
      );
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  out.push({
    path,
    ...(a === undefined ? {} : { before: shown(a) }),
    ...(b === undefined ? {} : { after: shown(b) }),
  });
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function shown(v: unknown): string {
  const text = JSON.stringify(v);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** JSON with sorted object keys, so key order in a file never looks like a change. */
export function canonical(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, val) =>
      val && typeof val === "object" && !Array.isArray(val)
        ? Object.fromEntries(Object.entries(val).sort(([a], [b]) => a.localeCompare(b)))
        : val,
  );
}
