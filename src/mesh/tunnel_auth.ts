/**
 * How a node proves to another node's tunnel that it is a node of the cluster. The tunnel is
 * TLS: the client checks the server's node certificate against the cluster CA. Deno's TLS
 * server cannot ask for a client certificate, so the client proves itself inside the channel:
 * it sends its node certificate and a signature, with its node key, over the time and the
 * server's address. The server checks the certificate against the cluster CA (and its dates)
 * and the signature against the certificate. Only the server ever sees a proof (it travels
 * inside TLS to the node it names), so no one else can replay it; it is good for two minutes.
 * @module
 */
import { createPrivateKey, sign, verify, X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import { ETCD_SERVER_NAME } from "../etcd/certs.ts";

/** What signs and checks proofs: the cluster CA and this node's certificate and key (PEM). */
export interface NodeIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A proof older or newer than this (clock skew included) is refused. */
export const PROOF_MAX_AGE_MS = 120_000;
/** A proof is reused for this long, so a burst of connections signs once. */
const PROOF_REUSE_MS = 30_000;

/** The signed part of a proof. */
function signed(at: number, to: string): Uint8Array {
  return new TextEncoder().encode(`fossora-mesh/1|${at}|${to}`);
}

/** Makes and checks proofs. */
export class TunnelAuth {
  readonly #ca: X509Certificate;
  readonly #certPem: string;
  readonly #key: ReturnType<typeof createPrivateKey>;
  readonly #now: () => number;
  readonly #proofs = new Map<string, { at: number; proof: Proof }>();
  /** Certificates already checked against the CA, with when they stop being valid (ms). */
  readonly #checked = new Map<string, { cert: X509Certificate; notAfter: number }>();

  constructor(id: NodeIdentity, now: () => number = Date.now) {
    this.#ca = new X509Certificate(id.caPem);
    this.#certPem = id.certPem;
    this.#key = createPrivateKey(id.keyPem);
    this.#now = now;
  }

  /** A proof for the node at address `to`. */
  proof(to: string): Proof {
    const now = this.#now();
    const kept = this.#proofs.get(to);
    if (kept && now - kept.at < PROOF_REUSE_MS) return kept.proof;
    const sig = sign("sha256", signed(now, to), this.#key);
    const proof = { cert: this.#certPem, at: now, to, sig: Buffer.from(sig).toString("base64") };
    if (this.#proofs.size > 1000) this.#proofs.clear();
    this.#proofs.set(to, { at: now, proof });
    return proof;
  }

  /** Why `p` does not prove a cluster node speaks to `self`, or undefined when it does. */
  check(p: Proof, self: string): string | undefined {
    if (p.to !== self) return "the proof is for another node";
    if (!(Math.abs(this.#now() - p.at) <= PROOF_MAX_AGE_MS)) {
      return "the proof is stale (are the nodes' clocks set?)";
    }
    const cert = this.#certificate(p.cert);
    if (typeof cert === "string") return cert;
    const ok = verify("sha256", signed(p.at, p.to), cert.publicKey, Buffer.from(p.sig, "base64"));
    return ok ? undefined : "the signature does not match the certificate";
  }

  #certificate(pem: string): X509Certificate | string {
    const now = this.#now();
    const known = this.#checked.get(pem);
    if (known && now < known.notAfter) return known.cert;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      return "the certificate cannot be read";
    }
    if (!cert.checkIssued(this.#ca) || !cert.verify(this.#ca.publicKey)) {
      return "the certificate is not signed by the cluster CA";
    }
    // The CA also signs the proxy's certificate, whose key is not a node's.
    if (!(cert.subjectAltName ?? "").split(", ").includes(`DNS:${ETCD_SERVER_NAME}`)) {
      return "the certificate is not a node certificate";
    }
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    if (!(now >= notBefore && now < notAfter)) return "the certificate has expired";
    if (this.#checked.size > 1000) this.#checked.clear();
    this.#checked.set(pem, { cert, notAfter });
    return cert;
  }
}

/** A node's proof, as sent at the start of a tunnel. */
export interface Proof {
  /** The client's node certificate, PEM. */
  cert: string;
  /** When it was made, ms since the epoch. */
  at: number;
  /** The server's address. */
  to: string;
  /** base64 of the signature over `fossora-mesh/1|AT|TO`. */
  sig: string;
}

/** Reads a proof from untrusted JSON; undefined when it is not one. */
export function asProof(v: unknown): Proof | undefined {
  const p = v as Partial<Proof> | null;
  if (
    typeof p !== "object" || p === null || typeof p.cert !== "string" ||
    typeof p.at !== "number" || typeof p.to !== "string" || typeof p.sig !== "string"
  ) return undefined;
  return { cert: p.cert, at: p.at, to: p.to, sig: p.sig };
}
