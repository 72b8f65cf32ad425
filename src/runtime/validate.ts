/**
 * Checks the wanted replicas handed to the runtime, one entry at a time, so one bad record is
 * set aside with a clear reason while the others run. Stored specs were already validated by
 * src/spec/ when applied; what is checked again here is only what keeps a Docker call or the
 * loop itself sound: types, the characters that go into container and volume names and labels,
 * numbers the labels can carry back, and port ranges. Anything else (image reference grammar,
 * path style...) Docker refuses with its own message, which the replica's status shows.
 * @module
 */
import { replicaKey, type WantedReplica } from "./labels.ts";

/** Docker's rule for container and volume names (both are built from service and volume names). */
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** parseObserved reads at most 9 replica digits and 15 generation digits back from labels. */
const MAX_REPLICA = 999_999_999;
const MAX_GENERATION = 999_999_999_999_999;

/** A wanted entry set aside, and whether its replica can carry an error status. */
export interface Rejected {
  /** The entry's position in the list handed in. */
  index: number;
  /** Set when service and replica can name a status record (and containers). */
  target?: { service: string; replica: number; generation: number };
  /** Every problem, for the log and the status message. */
  problems: string[];
}

/** The outcome of checking a list: what to run, and what was set aside. */
export interface CheckedWanted {
  valid: WantedReplica[];
  rejected: Rejected[];
  /** Later entries for a replica already listed: dropped, for the log only. */
  duplicates: string[];
}

function isInt(n: unknown, min: number, max: number): n is number {
  return Number.isInteger(n) && (n as number) >= min && (n as number) <= max;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function specProblems(s: unknown): string[] {
  if (!isObject(s)) return ["spec must be an object"];
  const out: string[] = [];
  if (typeof s.image !== "string" || s.image.trim() === "") {
    out.push("spec.image must be a non-empty string");
  }
  const cmd = s.command;
  if (cmd !== undefined && (!Array.isArray(cmd) || cmd.some((c) => typeof c !== "string"))) {
    out.push("spec.command must be a list of strings");
  }
  if (!Array.isArray(s.ports) || s.ports.some((p) => !isInt(p?.container, 1, 65535))) {
    out.push("spec.ports: each needs a container port 1..65535");
  }
  if (!isObject(s.env)) out.push("spec.env must be an object of strings");
  else if (
    Object.entries(s.env).some(([k, v]) => k === "" || k.includes("=") || typeof v !== "string")
  ) {
    out.push("spec.env: every key must be non-empty without '=' and every value a string");
  }
  const vols = s.volumes;
  if (
    !Array.isArray(vols) ||
    vols.some((v) => !DOCKER_NAME.test(String(v?.name)) || typeof v?.path !== "string")
  ) {
    out.push("spec.volumes: each needs a name of [a-zA-Z0-9_.-] and a path");
  }
  // Docker refuses bad values of these with its own message; only their shape is checked here.
  for (const key of ["binds", "devices"] as const) {
    if (s[key] !== undefined && (!Array.isArray(s[key]) || s[key].some((x) => !isObject(x)))) {
      out.push(`spec.${key} must be a list of objects`);
    }
  }
  if (s.container !== undefined && !isObject(s.container)) {
    out.push("spec.container must be an object");
  }
  return out;
}

/** Every problem of one wanted entry, in words a user can act on. */
export function problemsOf(w: unknown): string[] {
  if (!isObject(w)) return ["must be an object with service, replica, generation and spec"];
  const out: string[] = [];
  if (typeof w.service !== "string" || !DOCKER_NAME.test(w.service)) {
    out.push(`service ${JSON.stringify(w.service)} must be a name of [a-zA-Z0-9_.-]`);
  }
  if (!isInt(w.replica, 0, MAX_REPLICA)) out.push(`replica must be an integer 0..${MAX_REPLICA}`);
  if (!isInt(w.generation, 1, MAX_GENERATION)) {
    out.push(`generation must be an integer 1..${MAX_GENERATION}`);
  }
  return [...out, ...specProblems(w.spec)];
}

/** Service and replica of an entry when they can name a status record, whatever else is wrong. */
function targetOf(w: unknown): Rejected["target"] {
  if (!isObject(w)) return undefined;
  const { service, replica, generation } = w;
  if (typeof service !== "string" || service === "" || service.includes("/")) return undefined;
  if (!isInt(replica, 0, Number.MAX_SAFE_INTEGER)) return undefined;
  return { service, replica, generation: isInt(generation, 0, MAX_GENERATION) ? generation : 0 };
}

/**
 * Splits `list` into the entries to run and those set aside. The first valid entry of a replica
 * wins; an invalid entry is rejected only when no valid one names the same replica, so its
 * error never hides a replica that runs.
 */
export function checkWanted(list: readonly unknown[]): CheckedWanted {
  const valid: WantedReplica[] = [];
  const bad: Rejected[] = [];
  const duplicates: string[] = [];
  const seen = new Set<string>();
  list.forEach((w, index) => {
    const problems = problemsOf(w);
    if (problems.length > 0) {
      bad.push({ index, target: targetOf(w), problems });
      return;
    }
    const ok = w as WantedReplica;
    const key = replicaKey(ok.service, ok.replica);
    if (seen.has(key)) duplicates.push(`wanted[${index}]: replica ${key} is listed twice`);
    else valid.push(ok);
    seen.add(key);
  });
  const rejected: Rejected[] = [];
  for (const r of bad) {
    const key = r.target && replicaKey(r.target.service, r.target.replica);
    if (key === undefined || !seen.has(key)) rejected.push(r);
    else {duplicates.push(
        `wanted[${r.index}]: replica ${key} is listed twice, and this entry is invalid (${
          r.problems.join("; ")
        })`,
      );}
  }
  return { valid, rejected, duplicates };
}
