/**
 * "Did you mean" hints: the known word a misspelt one most likely meant, by edit distance.
 * @module
 */

/** Edit distance between two strings (insert, delete, substitute each cost 1). */
export function editDistance(a: string, b: string): number {
  // Words are short, so the plain two-row version is enough.
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    prev = cur;
  }
  return prev[b.length];
}

/** Options of {@link nearest}. */
export interface NearestOptions {
  /** The largest distance still taken for a typo; further candidates are not suggested. */
  maxDistance: number;
  /** Applied to the word and to each candidate before comparing (e.g. to ignore case). */
  normalize?: (s: string) => string;
}

/**
 * The candidate closest to `word` (the first of equally close ones), or undefined when none is
 * within `maxDistance`.
 */
export function nearest(
  word: string,
  candidates: readonly string[],
  options: NearestOptions,
): string | undefined {
  const norm = options.normalize ?? ((s: string) => s);
  const w = norm(word);
  let best: string | undefined;
  let bestDistance = options.maxDistance + 1;
  for (const candidate of candidates) {
    const distance = editDistance(w, norm(candidate));
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}
