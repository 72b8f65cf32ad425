/**
 * Which line of a YAML or JSON file a problem is about: the API names fields by path
 * (`services.web.ports[0]`), a person reads lines. The deepest field of the path the file has
 * gives the line, so a missing field points at its service.
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";

/** A path's steps: keys and list indexes (`services["my.app"].ports[0]`). */
export function pathSteps(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  const step = /([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\./gy;
  let m: RegExpExecArray | null;
  while (step.lastIndex < path.length && (m = step.exec(path))) {
    if (m[1] !== undefined) steps.push(m[1]);
    else if (m[2] !== undefined) steps.push(Number(m[2]));
    else if (m[3] !== undefined) steps.push(JSON.parse(m[3]));
  }
  return steps;
}

/** Finds the lines of problem paths in one file, parsed once. */
export class LineFinder {
  readonly #lines = new LineCounter();
  readonly #doc;

  constructor(text: string) {
    this.#doc = parseDocument(text, { lineCounter: this.#lines, uniqueKeys: false });
  }

  /** The 1-based line of the deepest field of `path` the file has, or undefined. */
  line(path: string, message = ""): number | undefined {
    // The parser's own problems say where they are.
    const said = /\bat line (\d+)/.exec(message);
    if (said) return Number(said[1]);
    let node: unknown = this.#doc.contents;
    let offset: number | undefined;
    for (const step of pathSteps(path)) {
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isScalar(p.key) && String(p.key.value) === String(step)
        );
        if (!pair) break;
        offset = (pair.key as { range?: [number, number, number] }).range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof step === "number" && node.items[step]) {
        node = node.items[step];
        offset = (node as { range?: [number, number, number] }).range?.[0] ?? offset;
      } else break;
    }
    return offset === undefined ? undefined : this.#lines.linePos(offset).line;
  }
}
