/** "Did you mean" hints for misspelt settings. @module */
import { nearest } from "../util/suggest.ts";

/**
 * The candidate closest to `word`, or undefined when none is close enough to be a likely typo.
 * Case and `_` versus `-` are ignored first, since `DATA_DIR` for `data-dir` is the usual slip.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const normalize = (s: string) => s.toLowerCase().replace(/_/g, "-");
  const maxDistance = Math.max(1, Math.floor(normalize(word).length / 3));
  return nearest(word, candidates, { maxDistance, normalize });
}

/** ` (did you mean X?)` when a close candidate exists, else the empty string. */
export function didYouMean(word: string, candidates: readonly string[], show = (s: string) => s) {
  const hit = closest(word, candidates);
  return hit === undefined ? "" : ` (did you mean ${show(hit)}?)`;
}
