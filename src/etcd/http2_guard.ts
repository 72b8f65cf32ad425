/**
 * A guard against a crash of Deno 2.9.6's `node:http2`, which the etcd client (grpc-js) runs on.
 *
 * When an etcd member stops gracefully (a restart with new timing, a voter handing over its
 * vote, an upgrade), it sends its clients a GOAWAY frame. grpc-js answers the frame's `goaway`
 * event by closing the session there and then, while nghttp2 is still inside the code that
 * delivered the frame; nghttp2 then walks streams the nested close already took apart and the
 * whole process dies: `nghttp2_session.c:2402: find_stream_on_goaway_func: Assertion
 * 'stream->closed_next == NULL' failed`, or a SIGSEGV in the same function. Measured here with
 * a client connected while its member restarts, on a busy machine: 4 of 6 processes of 15
 * restarts each crashed; with the close deferred, 0 of 14.
 *
 * Node defers such work itself. Deferring `Http2Session.close` to the next turn of the event
 * loop does the same: a close only ever asks for an orderly end (it completes later anyway), so
 * no caller waits on it having started.
 * @module
 */
import http2 from "node:http2";
import { setImmediate } from "node:timers";

const GUARDED = Symbol.for("fossora.http2.closeDeferred");

/** Installs the guard, once per process; every etcd client is created after it. */
export function guardHttp2Close(): void {
  const proto = (http2 as unknown as { Http2Session?: { prototype: Record<PropertyKey, unknown> } })
    .Http2Session?.prototype;
  if (!proto || proto[GUARDED] || typeof proto.close !== "function") return;
  const close = proto.close as (...args: unknown[]) => void;
  proto.close = function (this: unknown, ...args: unknown[]): void {
    setImmediate(() => {
      try {
        close.apply(this, args);
      } catch {
        // Destroyed meanwhile: nothing is left to close.
      }
    });
  };
  proto[GUARDED] = true;
}
