/**
 * Server-sent events that keep a page's region current without reloading: the region is
 * rendered again every few seconds and sent when it changed, so the browser needs no framework,
 * only a few lines that swap the region's HTML (see assets.ts).
 * @module
 */

/** How often an idle stream sends a comment, so proxies and the browser keep it open. */
const KEEPALIVE_MS = 15_000;
/** How often a stream checks that its session still holds, by default. */
const SESSION_CHECK_MS = 30_000;

/**
 * A text/event-stream of `update` events, each the region's HTML when it changed; `render`
 * failing sends nothing that time (the page keeps its last state). Ends when `signal` aborts,
 * when the browser goes away, or when `stillAllowed` (asked every 30 s) says no.
 */
export function liveRegion(
  render: () => Promise<string>,
  signal: AbortSignal,
  o: {
    pollMs: number;
    stillAllowed?: () => Promise<boolean>;
    /** How often `stillAllowed` is asked; default 30 s. */
    checkMs?: number;
  },
): ReadableStream<Uint8Array> {
  const { pollMs, stillAllowed = () => Promise.resolve(true), checkMs = SESSION_CHECK_MS } = o;
  const encoder = new TextEncoder();
  let last = "";
  let quietSince = Date.now();
  let checkedAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  let failing = false;
  let stop = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      stop = () => {
        if (closed) return;
        closed = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", stop);
        try {
          controller.close();
        } catch { /* cancelled already */ }
      };
      signal.addEventListener("abort", stop, { once: true });
      const tick = async () => {
        try {
          // A session logged out or expired ends its streams: the page then asks to log in.
          if (Date.now() - checkedAt >= checkMs) {
            checkedAt = Date.now();
            if (!await stillAllowed()) return stop();
          }
          const html = await render();
          if (closed) return;
          if (html !== last) {
            last = html;
            quietSince = Date.now();
            controller.enqueue(encoder.encode(sseEvent("update", html)));
          } else if (Date.now() - quietSince > KEEPALIVE_MS) {
            quietSince = Date.now();
            controller.enqueue(encoder.encode(": still here\n\n"));
          }
          failing = false;
        } catch (err) {
          // The page keeps what it had, and says once why it is not current; the next tick
          // tries again.
          if (!failing && !closed) {
            failing = true;
            // Sent again once it renders: the page then drops its notice.
            last = "";
            const why = err instanceof Error ? err.message : String(err);
            controller.enqueue(encoder.encode(sseEvent("stale", why)));
          }
        }
        if (!closed) timer = setTimeout(tick, pollMs);
      };
      void tick();
    },
    cancel() {
      // The browser went away: no more renders, and nothing left on the server's signal.
      closed = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", stop);
    },
  });
}

/** One event: every line of `data` as its own `data:` line, as the format wants. */
export function sseEvent(event: string, data: string): string {
  return `event: ${event}\n${data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`).join("\n")}\n\n`;
}

/** The headers of an event stream. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};
