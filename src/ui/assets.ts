/**
 * The web UI's one script, served at `/ui.js` from inside the program: live regions kept
 * current by server-sent events, logs that follow with a pause, a copy button, and a banner when
 * the node stops answering. Pages work without it; it only keeps them current.
 * @module
 */

/** The script's text. */
export const UI_SCRIPT = `"use strict";
(() => {
  const offline = document.getElementById("offline");
  const watch = (es) => {
    es.addEventListener("open", () => { if (offline) offline.hidden = true; });
    es.addEventListener("error", () => {
      if (offline && es.readyState !== EventSource.OPEN) offline.hidden = false;
    });
  };
  for (const region of document.querySelectorAll("[data-live]")) {
    const es = new EventSource(region.dataset.live);
    watch(es);
    let held = null;
    // A region is not replaced under the keyboard's focus: the update waits until focus leaves.
    const focused = () => region.contains(document.activeElement) && document.activeElement !== document.body;
    es.addEventListener("update", (e) => {
      if (offline) offline.hidden = true;
      if (focused()) held = e.data;
      else region.innerHTML = e.data;
    });
    es.addEventListener("stale", (e) => {
      if (!offline) return;
      offline.textContent = "This page could not be brought up to date: " + e.data;
      offline.hidden = false;
    });
    region.addEventListener("focusout", (e) => {
      if (held !== null && !region.contains(e.relatedTarget)) {
        region.innerHTML = held;
        held = null;
      }
    });
  }
  const log = document.getElementById("log");
  if (log && log.dataset.stream) {
    const state = document.getElementById("log-state");
    const pause = document.getElementById("pause");
    const MAX_CHUNKS = 2000;
    let paused = false;
    let held = [];
    let opened = false;
    const append = (text) => {
      log.append(text + "\\n");
      while (log.childNodes.length > MAX_CHUNKS) log.firstChild.remove();
      log.scrollTop = log.scrollHeight;
    };
    const es = new EventSource(log.dataset.stream);
    watch(es);
    es.addEventListener("open", () => {
      // The stream starts again with the last lines: what was shown is replaced.
      if (opened) { log.textContent = ""; held = []; }
      opened = true;
      state.textContent = paused ? "Paused: new lines wait." : "Following new lines.";
    });
    const waiting = () => {
      const n = held.reduce((sum, t) => sum + t.split("\\n").length, 0);
      state.textContent = n ? "Paused: " + n + " new line" + (n === 1 ? "" : "s") + " wait." : "Paused: new lines wait.";
    };
    es.addEventListener("lines", (e) => {
      if (!paused) return append(e.data);
      held.push(e.data);
      // A long pause keeps the newest lines only, as the log itself does.
      if (held.length > MAX_CHUNKS) held.shift();
      waiting();
    });
    es.addEventListener("problem", (e) => { state.textContent = e.data; es.close(); });
    es.addEventListener("end", () => {
      state.textContent = "The log ended: the replica stopped or moved. Reload to read it again.";
      es.close();
    });
    es.addEventListener("error", () => {
      if (es.readyState !== EventSource.OPEN && es.readyState !== EventSource.CLOSED) {
        state.textContent = "Connection lost; trying again…";
      }
    });
    pause.addEventListener("click", () => {
      paused = !paused;
      pause.setAttribute("aria-pressed", String(paused));
      pause.textContent = paused ? "Resume" : "Pause";
      if (paused) return waiting();
      state.textContent = "Following new lines.";
      for (const t of held) append(t);
      held = [];
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(source.textContent);
        button.textContent = "Copied";
      } catch {
        // Plain HTTP has no clipboard API: select the text for Ctrl+C.
        const range = document.createRange();
        range.selectNodeContents(source);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
    });
  }
})();
`;
