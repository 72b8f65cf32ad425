/**
 * Plain-text tables and times for people: columns aligned with two spaces, no trailing blanks.
 * @module
 */

/** Aligns `rows` under `header`; every line ends with `\n`. */
export function formatTable(header: string[], rows: string[][]): string {
  return formatRows([header, ...rows]);
}

/** Aligns the columns of `all`; every line ends with `\n`. */
export function formatRows(all: string[][]): string {
  if (all.length === 0) return "";
  const header = all[0];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? "")].length)));
  return all
    .map((r) =>
      r.map((cell, i) => (i === r.length - 1 ? cell : pad(cell ?? "", widths[i]))).join("  ")
        .trimEnd() + "\n"
    )
    .join("");
}

function pad(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - [...s].length));
}

/** How long ago `iso` was, seen at `now`: `3s ago`, `5m ago`, `2h ago`, `4d ago`; `-` if unknown. */
export function ago(iso: string | undefined, now: Date): string {
  const then = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(then)) return "-";
  const s = Math.floor((now.getTime() - then) / 1000);
  if (s < 1) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
