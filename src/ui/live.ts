/**
 * Server-sent events that keep a page's region current without reloading: the region is
 * rendered again every few seconds and sent when it changed, so the browser needs no framework,
 * only a few lines that swap the region's HTML (see assets.ts).
 * @module
 */

/** How often an idle stream sends a comment, so proxies and the browser keep it open. */
const KEEPALIVE_MS = 15_000;

/**
 * A text/event-stream of `update` events, each the region's HTML when it changed; `render`
 * failing sends nothing that time (the page keeps its last state). Ends when `signal` aborts.
 */
export function liveRegion(
  render: () => Promise<string>,
  signal: AbortSignal,
  pollMs: number,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let last = "";
  let quietSince = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const stop = () => {
        clearTimeout(timer);
        try {
          controller.close();
        } catch { /* closed already */ }
      };
      signal.addEventListener("abort", stop, { once: true });
      const tick = async () => {
        if (signal.aborted) return;
        try {
          const html = await render();
          if (html !== last) {
            last = html;
            quietSince = Date.now();
            controller.enqueue(encoder.encode(sseEvent("update", html)));
          } else if (Date.now() - quietSince > KEEPALIVE_MS) {
            quietSince = Date.now();
            controller.enqueue(encoder.encode(": still here\n\n"));
          }
        } catch {
          // The next tick tries again; the page shows what it had.
        }
        if (!signal.aborted) timer = setTimeout(tick, pollMs);
      };
      void tick();
    },
    cancel() {
      clearTimeout(timer);
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
