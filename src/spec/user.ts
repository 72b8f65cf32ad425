/**
 * The user a container runs as (`docker run --user`): `uid`, `uid:gid`, `name` or `name:group`
 * (names as the image's /etc/passwd has them).
 * @module
 */
import { expected, type Problems } from "./problems.ts";

const PART = "(?:[0-9]{1,10}|[A-Za-z_][A-Za-z0-9_.-]{0,31}\\$?)";
const USER = new RegExp(`^${PART}(?::${PART})?$`);

/** Checks a user; a YAML number (`user: 1000`) is a uid. Returns it as Docker takes it. */
export function checkUser(value: unknown, path: string, out: Problems): string | undefined {
  const text = typeof value === "number" && Number.isInteger(value) && value >= 0
    ? String(value)
    : value;
  if (typeof text === "string" && USER.test(text)) return text;
  out.push({
    path,
    message: expected("a user such as 1000, 1000:1000, nobody or www-data:www-data", value),
  });
  return undefined;
}
