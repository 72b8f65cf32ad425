/**
 * Compose's variable interpolation, as `docker compose` does it: `$VAR` and `${VAR}`,
 * `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` and
 * `${VAR?message}` (required), `${VAR:+other}` and `${VAR+other}` (set), defaults that hold
 * variables themselves, and `$$` for a literal `$`. Values come from `lookup`: the CLI's
 * environment and the `.env` beside the file. A variable that is unset and has no default
 * becomes the empty string with a warning, as compose does.
 * @module
 */
import type { Problems } from "./problems.ts";

/** A variable's value, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** How deep `${A:-${B:-…}}` may nest. */
const MAX_DEPTH = 16;

/**
 * `text` with its variables filled in, or undefined after a problem (a `${` never closed, a bad
 * name, a required variable unset): each is pushed to `problems` at `path`; unset variables
 * without a default are pushed to `warnings`.
 */
export function fillVariables(
  text: string,
  lookup: Lookup,
  path: string,
  problems: Problems,
  warnings: Problems,
): string | undefined {
  const before = problems.length;
  const result = fill(text, lookup, path, problems, warnings);
  return problems.length > before ? undefined : result;
}

function fill(
  text: string,
  lookup: Lookup,
  path: string,
  problems: Problems,
  warnings: Problems,
  depth = 0,
): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$") {
      out += "$";
      i = dollar + 2;
    } else if (next === "{") {
      const end = closing(text, dollar + 2);
      if (end < 0) {
        problems.push({
          path,
          message: `'${text}' opens \${ without a closing }; close it, or write $$ for a literal $`,
        });
        return "";
      }
      out += braced(text.slice(dollar + 2, end), lookup, path, problems, warnings, depth);
      i = end + 1;
    } else {
      const name = NAME.exec(text.slice(dollar + 1))?.[0];
      if (name === undefined) {
        // Compose keeps a `$` that starts no variable (`cost: 5$`).
        out += "$";
        i = dollar + 1;
      } else {
        out += valueOf(name, lookup, path, warnings);
        i = dollar + 1 + name.length;
      }
    }
  }
  return out;
}

/** The index of the `}` that closes a `${` whose body starts at `from`, minding nested ones. */
function closing(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "$") i++;
    else if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/** The value of one `${...}` body. */
function braced(
  body: string,
  lookup: Lookup,
  path: string,
  problems: Problems,
  warnings: Problems,
  depth: number,
): string {
  const name = NAME.exec(body)?.[0];
  if (name === undefined) {
    problems.push({
      path,
      message: `\${${body}} is not a variable: a name is letters, digits and _, not starting ` +
        "with a digit",
    });
    return "";
  }
  const rest = body.slice(name.length);
  if (rest === "") return valueOf(name, lookup, path, warnings);
  const op = /^(:?[-?+])/.exec(rest)?.[1];
  if (op === undefined) {
    problems.push({
      path,
      message: `\${${body}}: after the name compose takes :- - :? ? :+ or +, not '${rest[0]}'`,
    });
    return "";
  }
  const arg = () => {
    // A default inside a default inside…: real files nest two or three; a hostile one would
    // overflow the stack (a 500) and rescan the text at every level.
    if (depth >= MAX_DEPTH) {
      problems.push({ path, message: `nests \${…} more than ${MAX_DEPTH} deep; write it plainly` });
      return "";
    }
    return fill(rest.slice(op.length), lookup, path, problems, warnings, depth + 1);
  };
  const value = lookup(name);
  const set = value !== undefined && (!op.startsWith(":") || value !== "");
  switch (op.replace(":", "")) {
    case "-":
      return set ? value! : arg();
    case "+":
      return set ? arg() : "";
    default: // "?"
      if (set) return value!;
      problems.push({
        path,
        message: `needs the variable ${name}${op === ":?" ? " set and not empty" : " set"}: ${
          arg() || "required"
        }; set it in your environment or in .env beside the file`,
      });
      return "";
  }
}

function valueOf(name: string, lookup: Lookup, path: string, warnings: Problems): string {
  const value = lookup(name);
  if (value !== undefined) return value;
  warnings.push({
    path,
    message: `the variable ${name} is not set, so it is empty (as with docker compose); set it ` +
      "in your environment or in .env beside the file",
  });
  return "";
}

/**
 * The names of the variables `text` uses (`$NAME`, `${NAME…}`, nested defaults too), so the CLI
 * sends the agent those values only, never its whole environment.
 */
export function variableNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\$|\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (m[1] !== undefined) names.add(m[1]);
  }
  return [...names];
}
