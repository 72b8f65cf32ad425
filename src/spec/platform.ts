/**
 * The platform of an image to pull and run (`docker run --platform`): `os/arch[/variant]`, e.g.
 * `linux/arm64` or `linux/arm/v7`; fossora's nodes run Linux.
 * @module
 */
import { KNOWN_ARCHES } from "./fields.ts";
import { expected, type Problems } from "./problems.ts";

const FORM = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/(v[0-9]+))?$/;

/** Why `text` is not a platform fossora can run, or undefined when it is one. */
export function platformProblem(text: string): string | undefined {
  const m = FORM.exec(text);
  if (!m) return `'${text}' is not a platform; write os/arch[/variant], e.g. linux/arm64`;
  if (m[1] !== "linux") return `'${m[1]}' is not an OS fossora runs on; write linux/${m[2]}`;
  if (!KNOWN_ARCHES.includes(m[2])) {
    return `unknown architecture '${m[2]}'; known architectures are ${KNOWN_ARCHES.join(", ")}`;
  }
  return undefined;
}

/** Checks a platform; returns it when valid. */
export function checkPlatform(value: unknown, path: string, out: Problems): string | undefined {
  if (typeof value !== "string") {
    out.push({ path, message: expected("a platform such as linux/arm64", value) });
    return undefined;
  }
  const problem = platformProblem(value);
  if (problem === undefined) return value;
  out.push({ path, message: problem });
  return undefined;
}
