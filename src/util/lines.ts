/**
 * Cutting text that arrives in pieces (a pipe, a socket) into whole lines: a line cut between two
 * pieces comes out once, whole.
 * @module
 */

/**
 * Collects pieces of text and hands out the lines they complete, without their `\n`. Useful
 * where the lines of one piece should be handled together; otherwise use {@link splitLines}.
 */
export class LineSplitter {
  #rest = "";

  /** Adds a piece of text; returns the lines it completed, in order. */
  push(text: string): string[] {
    const lines = (this.#rest + text).split("\n");
    this.#rest = lines.pop() ?? "";
    return lines;
  }

  /** The unfinished last line at the end of the text, or undefined when there is none. */
  end(): string | undefined {
    const rest = this.#rest;
    this.#rest = "";
    return rest === "" ? undefined : rest;
  }
}

/** A stream transform from pieces of text to lines (without `\n`), one chunk per line. */
export function splitLines(): TransformStream<string, string> {
  const splitter = new LineSplitter();
  return new TransformStream({
    transform(chunk, controller) {
      for (const line of splitter.push(chunk)) controller.enqueue(line);
    },
    flush(controller) {
      const last = splitter.end();
      if (last !== undefined) controller.enqueue(last);
    },
  });
}
