/**
 * Reads text as one YAML document, or as JSON, into plain values, with the limits that keep a
 * hostile file cheap: nesting depth, alias expansion, and duplicate keys found in linear time.
 * @module
 */

import { type Document, isMap, isScalar, LineCounter, parseAllDocuments, visit } from "yaml";
import { type Problem, SHAPES } from "./problems.ts";

/**
 * How many aliases a YAML file may expand (yaml's `maxAliasCount`): enough for compose's
 * `<<: *defaults` habit, far too few for a "billion laughs" file.
 */
export const MAX_ALIAS_COUNT = 50;

/** How deep `[` and `{` may nest; real service files use two or three levels. */
export const MAX_NESTING = 64;

/** YAML syntax errors shown; after the first few they are mostly echoes of the first. */
const MAX_SYNTAX_ERRORS = 5;

/** The value read from the file, or the problems that stopped it. */
export type Loaded = { ok: true; value: unknown; warnings: Problem[] } | {
  ok: false;
  problems: Problem[];
};

/** Reads JSON; refuses what JSON.parse would accept silently (keys written twice). */
export function loadJson(text: string): Loaded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      problems: [{ path: "", message: `file is not valid JSON: ${(error as Error).message}` }],
    };
  }
  if (flowDepth(text) > MAX_NESTING) return tooDeep("JSON");
  // JSON.parse keeps the last of two equal keys without a word; YAML's reader finds them.
  const lines = new LineCounter();
  const duplicates = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false })
    .flatMap(duplicateKeys);
  if (duplicates.length > 0) {
    return {
      ok: false,
      problems: duplicates.slice(0, MAX_SYNTAX_ERRORS).map((duplicate) => {
        const at = lines.linePos(duplicate.offset);
        return {
          path: "",
          message: `JSON key written twice at line ${at.line}, column ${at.col}; keep one`,
        };
      }),
    };
  }
  return { ok: true, value, warnings: [] };
}

function tooDeep(format: string): Loaded {
  return {
    ok: false,
    problems: [{
      path: "",
      message: `${format} nests more than ${MAX_NESTING} levels deep; flatten it`,
    }],
  };
}

/**
 * YAML 1.1's octal integers (`0440`), which Docker compose's YAML reader (Go's yaml.v3) still
 * reads as octal: compose files write file modes so (`mode: 0440`), where YAML 1.2 reads 440.
 */
const LEGACY_OCTAL = {
  identify: (value: unknown) => typeof value === "number",
  default: true,
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  test: /^0[0-7]+$/,
  resolve: (text: string) => parseInt(text, 8),
};

/**
 * Reads exactly one YAML 1.2 document (merge keys allowed), with line and column on errors.
 * With `legacyOctal`, integers written `0440` are octal, as docker compose reads them.
 */
export function loadYaml(text: string, options: { legacyOctal?: boolean } = {}): Loaded {
  // The yaml parser takes seconds on a megabyte of "[[[[" and then overflows its stack.
  if (flowDepth(text) > MAX_NESTING) return tooDeep("YAML");
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter: lines,
    prettyErrors: false,
    // yaml's own uniqueKeys check is quadratic (a minute on 80,000 keys): see duplicateKeys.
    uniqueKeys: false,
    merge: true,
    ...(options.legacyOctal ? { customTags: (tags) => [LEGACY_OCTAL, ...tags] } : {}),
  });
  const errors = docs.flatMap((doc) => [
    ...doc.errors.map((error) => ({ offset: error.pos[0], message: error.message })),
    ...duplicateKeys(doc),
  ]);
  if (errors.some((error) => /call stack/i.test(error.message))) return tooDeep("YAML");
  if (errors.length > 0) {
    return {
      ok: false,
      problems: errors.slice(0, MAX_SYNTAX_ERRORS).map((error) => {
        const at = lines.linePos(error.offset);
        return {
          path: "",
          message: `YAML syntax error at line ${at.line}, column ${at.col}: ${error.message}`,
        };
      }),
    };
  }
  const filled = docs.filter((doc) => doc.contents !== null && !isEmptyScalar(doc.contents));
  if (filled.length === 0) {
    return {
      ok: false,
      problems: [{ path: "", message: `file holds only comments; write ${SHAPES}` }],
    };
  }
  if (filled.length > 1) {
    return {
      ok: false,
      problems: [{
        path: "",
        message: `file holds ${filled.length} YAML documents (separated by ---); only one ` +
          "document is allowed: put the services in one list instead",
      }],
    };
  }
  const doc = filled[0];
  const warnings = doc.warnings.map((warning) => {
    const at = lines.linePos(warning.pos[0]);
    return {
      path: "",
      message: `YAML warning at line ${at.line}, column ${at.col}: ${warning.message}`,
    };
  });
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), warnings };
  } catch (error) {
    const message = error instanceof ReferenceError && /alias/i.test(error.message)
      ? `YAML aliases expand too much (more than ${MAX_ALIAS_COUNT}); write the values out instead`
      : `YAML could not be read: ${(error as Error).message}`;
    return { ok: false, problems: [{ path: "", message }] };
  }
}

/**
 * The deepest nesting of flow brackets outside quotes and comments. A quick scan, not a YAML
 * parser: a plain scalar holding brackets can skew it, which only matters past MAX_NESTING.
 */
export function flowDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "[" || char === "{") deepest = Math.max(deepest, ++depth);
    else if (char === "]" || char === "}") depth = Math.max(0, depth - 1);
    else if (char === '"') i = skipDoubleQuoted(text, i);
    else if (char === "'") i = skipTo(text, "'", i + 1);
    else if (char === "#" && (i === 0 || /\s/.test(text[i - 1]))) {
      i = skipTo(text, "\n", i);
    }
  }
  return deepest;
}

function skipTo(text: string, char: string, from: number): number {
  const found = text.indexOf(char, from);
  return found < 0 ? text.length : found;
}

function skipDoubleQuoted(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}

/** Keys written twice in one mapping, in linear time; YAML forbids them and JSON.parse hides them. */
function duplicateKeys(doc: Document.Parsed): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<string>();
      for (const pair of map.items) {
        const key = pair.key;
        if (!isScalar(key) || key.source === "<<" || key.value === "<<") continue;
        const text = String(key.value);
        if (seen.has(text)) {
          found.push({ offset: key.range?.[0] ?? 0, message: "Map keys must be unique" });
        }
        seen.add(text);
      }
    },
  });
  return found;
}

/** A document that is only `---` (or ends with a stray `---`) holds an empty plain scalar. */
function isEmptyScalar(node: unknown): boolean {
  const scalar = node as { value?: unknown; source?: unknown };
  return scalar.value === null && scalar.source === "";
}
