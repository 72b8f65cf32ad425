/**
 * The admin password, stored as an scrypt hash (RFC 7914) that every node can check: the
 * parameters and salt travel with the hash, so they can be raised later without breaking the
 * passwords set before.
 * @module
 */
import { Buffer } from "node:buffer";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** 2^15 iterations: about a tenth of a second on a Raspberry Pi 4, 32 MiB of memory. */
const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

/** Shortest password the first-run page takes. */
export const MIN_PASSWORD_LENGTH = 10;
/** Longest: scrypt takes any length, a request body should not. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Thrown when too many password checks wait already: the caller says "try again soon". */
export class BusyError extends Error {}

/** Checks that run at once (each takes 32 MiB), and how many more may wait their turn. */
const RUNNING = 2;
const WAITING = 32;
let running = 0;
const queue: (() => void)[] = [];

async function turn(): Promise<() => void> {
  if (running >= RUNNING) {
    if (queue.length >= WAITING) throw new BusyError("too many password checks at once");
    await new Promise<void>((resolve) => queue.push(resolve));
  } else running++;
  // The slot passes to the next waiter as is, so `running` stays counted.
  return () => {
    const next = queue.shift();
    if (next) next();
    else running--;
  };
}

async function derive(password: string, salt: Buffer, logN: number, r: number, p: number) {
  const done = await turn();
  try {
    return await scryptKey(password, salt, logN, r, p);
  } finally {
    done();
  }
}

function scryptKey(password: string, salt: Buffer, logN: number, r: number, p: number) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_BYTES,
      { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r },
      (err, key) => err ? reject(err) : resolve(key),
    )
  );
}

/** `scrypt$LOGN$R$P$SALT$HASH` (base64) of `password`, with a fresh salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, LOG_N, R, P);
  return ["scrypt", LOG_N, R, P, salt.toString("base64"), key.toString("base64")].join("$");
}

/** True when `password` matches `stored`; false for a stored value it cannot read. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [logN, r, p] = parts.slice(1, 4).map(Number);
  // A record with absurd costs must not hang or exhaust the node that reads it.
  if (![logN, r, p].every(Number.isInteger) || logN < 10 || logN > 20 || r < 1 || r > 32) {
    return false;
  }
  if (p < 1 || p > 4) return false;
  const salt = Buffer.from(parts[4], "base64");
  const expected = Buffer.from(parts[5], "base64");
  if (expected.length !== KEY_BYTES || password.length > MAX_PASSWORD_LENGTH) return false;
  const key = await derive(password, salt, logN, r, p);
  return timingSafeEqual(key, expected);
}

/** Why a new password is refused, or undefined. */
export function passwordProblem(password: string, again: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) {
    return `use at least ${MIN_PASSWORD_LENGTH} characters (a few words make a good password)`;
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    return `use at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  if (password !== again) return "the two passwords differ; type the same one twice";
  return undefined;
}
