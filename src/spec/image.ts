/**
 * A sane check of a Docker image reference (`[registry[:port]/]repo/path[:tag][@digest]`), after
 * the grammar in distribution/reference. It catches typos before a node tries to pull them;
 * it does not ask any registry whether the image exists.
 * @module
 */

const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(`^${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?$`);
const PATH_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const MAX_NAME = 255;

/**
 * Why `ref` is not a usable image reference, or undefined when it is.
 *
 * @example
 * ```ts
 * imageReferenceProblem("traefik/whoami:v1.10"); // undefined
 * imageReferenceProblem("Traefik/whoami"); // "repository names must be lowercase"
 * ```
 */
export function imageReferenceProblem(ref: string): string | undefined {
  if (ref === "") return "it is empty";
  if (/\s/.test(ref)) return "it contains whitespace";
  let rest = ref;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const digest = rest.slice(at + 1);
    if (!DIGEST.test(digest)) return `'${digest}' is not a digest like sha256:<64 hex digits>`;
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    const tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) {
      return `tag '${tag}' may hold only letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')`;
    }
    rest = rest.slice(0, colon);
  }
  return nameProblem(rest);
}

function nameProblem(name: string): string | undefined {
  if (name === "") return "the repository name is missing";
  if (name.length > MAX_NAME) return `the repository name is longer than ${MAX_NAME} characters`;
  const parts = name.split("/");
  if (parts.length > 1 && isDomain(parts[0])) {
    if (!DOMAIN.test(parts[0])) return `'${parts[0]}' is not a valid registry host`;
    parts.shift();
  }
  for (const part of parts) {
    if (part === "") return "it has an empty path component (two '/' in a row, or a '/' at an end)";
    if (part !== part.toLowerCase()) return "repository names must be lowercase";
    if (!PATH_PART.test(part)) {
      return `'${part}' may hold only lowercase letters, digits and single separators ('.', '_', '__', '-')`;
    }
  }
  return undefined;
}

/** Docker's rule: the first component is a registry when it looks like a host name. */
function isDomain(first: string): boolean {
  return first.includes(".") || first.includes(":") || first === "localhost";
}
