/**
 * The etcd client of the agent.
 * @module
 */
import { Buffer } from "node:buffer";
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  retry,
  wrap,
} from "cockatiel";
import { Etcd3, type IOptions, isRecoverableError } from "etcd3";
import { ETCD_SERVER_NAME, type NodeCerts } from "./certs.ts";
import { guardHttp2Close } from "./http2_guard.ts";

/**
 * Creates a client for the given client URLs; it reconnects by itself. The library's default
 * breaker stays open for 5 s after three failures, which outlasts a restarted local member by
 * far: ours probes again after 500 ms, and each call retries with backoff for about 3 s. A call
 * that finds the breaker open retries too: one dropped connection fails every call and stream
 * on it at once (five failures in a row), and the call that came next would fail with nothing
 * wrong any more.
 * With `tls`, the client shows this node's certificate and trusts only the cluster CA; the files
 * are read once, here, so a missing file fails now and not on the first call.
 */
export function connectEtcd(urls: string[], tls?: NodeCerts): Etcd3 {
  guardHttp2Close();
  return new Etcd3({
    hosts: urls,
    dialTimeout: 3000,
    ...(tls ? tlsOptions(tls) : {}),
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(5),
        }),
      // A watch whose voter went away reconnects within 2 s (the library waits up to 30 s),
      // so the mirror follows a voter change quickly.
      // etcd3 wants the first backoff state (it reads `duration`, then calls `next()`), not a
      // factory.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }).next(),
      global: wrap(
        retry(handleWhen((err) => isRecoverableError(err) || isBrokenCircuitError(err)), {
          maxAttempts: 6,
          backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }),
        }),
      ),
    },
  });
}

/**
 * HTTP/2 pings every 2 s, and a connection that does not answer one within 2 s is dropped and
 * dialled again. Without them a connection to a voter whose link was cut (no reset, unlike a
 * crash) hangs until TCP gives up, minutes later: every call of the agent waits on it, its
 * leases expire, and the node drops out while its own member is fine. etcd must allow pings
 * that often (`--grpc-keepalive-min-time`, see the supervisor).
 */
const KEEPALIVE = {
  "grpc.keepalive_time_ms": 2000,
  "grpc.keepalive_timeout_ms": 2000,
  "grpc.keepalive_permit_without_calls": 1,
};

/**
 * grpc-js wants Buffers (a Uint8Array is refused), and under Deno it cannot check a server
 * by IP address, so every etcd certificate carries {@link ETCD_SERVER_NAME} and the client
 * verifies that name whatever address it dials.
 */
function tlsOptions(tls: NodeCerts): Pick<IOptions, "credentials" | "grpcOptions"> {
  return {
    credentials: {
      rootCertificate: readPem(tls.caFile),
      certChain: readPem(tls.certFile),
      privateKey: readPem(tls.keyFile),
    },
    grpcOptions: {
      "grpc.ssl_target_name_override": ETCD_SERVER_NAME,
      "grpc.default_authority": ETCD_SERVER_NAME,
      ...KEEPALIVE,
    },
  };
}

function readPem(path: string): Buffer {
  try {
    return Buffer.from(Deno.readFileSync(path));
  } catch (err) {
    throw new Error(
      `cannot read ${path} for the etcd client: ${(err as Error).message}; ` +
        `re-create the node certificates (DATA_DIR/pki)`,
    );
  }
}
