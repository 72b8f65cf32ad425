/**
 * Checks the wanted replicas handed to the runtime, so a bad record becomes one clear error
 * instead of a Docker call with nonsense in it.
 * @module
 */
import type { WantedReplica } from "./labels.ts";
import { replicaKey } from "./labels.ts";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function isPort(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

/** Every problem of one wanted replica, by field path. */
function problemsOf(w: WantedReplica, at: string): string[] {
  const out: string[] = [];
  if (typeof w !== "object" || w === null) return [`${at}: must be an object`];
  if (typeof w.service !== "string" || !DNS_LABEL.test(w.service)) {
    out.push(`${at}.service: must be a DNS label ([a-z0-9-], 1..63 characters)`);
  }
  if (!Number.isInteger(w.replica) || w.replica < 0) {
    out.push(`${at}.replica: must be an integer >= 0`);
  }
  if (!Number.isInteger(w.generation) || w.generation < 1) {
    out.push(`${at}.generation: must be an integer >= 1`);
  }
  const s = w.spec;
  if (typeof s !== "object" || s === null) return [...out, `${at}.spec: must be an object`];
  if (typeof s.image !== "string" || s.image.trim() === "") {
    out.push(`${at}.spec.image: must be a non-empty image reference`);
  }
  if (
    s.command !== undefined &&
    (!Array.isArray(s.command) || s.command.some((c) => typeof c !== "string"))
  ) {
    out.push(`${at}.spec.command: must be a list of strings`);
  }
  if (!Array.isArray(s.ports) || s.ports.some((p) => !isPort(p?.container))) {
    out.push(`${at}.spec.ports: each needs a container port 1..65535`);
  }
  if (typeof s.env !== "object" || s.env === null) {
    out.push(`${at}.spec.env: must be an object of strings`);
  } else if (Object.values(s.env).some((v) => typeof v !== "string")) {
    out.push(`${at}.spec.env: every value must be a string`);
  }
  if (
    !Array.isArray(s.volumes) ||
    s.volumes.some((v) => !DNS_LABEL.test(v?.name ?? "") || !String(v?.path).startsWith("/"))
  ) {
    out.push(`${at}.spec.volumes: each needs a DNS-label name and an absolute path`);
  }
  return out;
}

/** Throws a RangeError listing every problem (and duplicate replica) in `wanted`; else returns. */
export function validateWanted(wanted: readonly WantedReplica[]): void {
  if (!Array.isArray(wanted)) throw new RangeError("wanted replicas: must be an array");
  const problems: string[] = [];
  const seen = new Set<string>();
  wanted.forEach((w, i) => {
    const at = `wanted[${i}]`;
    const p = problemsOf(w, at);
    problems.push(...p);
    if (p.length > 0) return;
    const key = replicaKey(w.service, w.replica);
    if (seen.has(key)) problems.push(`${at}: replica ${key} is listed twice`);
    seen.add(key);
  });
  if (problems.length > 0) {
    throw new RangeError(`invalid wanted replicas (fix the assignment): ${problems.join("; ")}`);
  }
}
