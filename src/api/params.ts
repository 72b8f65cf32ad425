/**
 * Query parameter readers that turn bad input into a 400 naming the parameter.
 * @module
 */
import { ApiError } from "./errors.ts";

/** A boolean query flag: `1`, `true`, `yes` or present-and-empty mean true. */
export function queryFlag(value: string | undefined): boolean {
  if (value === undefined) return false;
  return ["", "1", "true", "yes"].includes(value.toLowerCase());
}

/** A whole number ≥ 0, or undefined when absent; anything else is a 400 `bad_request`. */
export function queryCount(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d{1,9}$/.test(value)) {
    throw new ApiError(
      400,
      "bad_request",
      `${name} must be a whole number of 0 or more (e.g. ${name}=100), not ${
        JSON.stringify(value)
      }`,
    );
  }
  return Number(value);
}
