/**
 * Routes for stacks (deployed compose files): list them, deploy one with its variables and the
 * files it names, remove one.
 * @module
 */
import type { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { readLimitedBody } from "../body.ts";
import { summarizeService } from "../summary.ts";
import type { ApiDeps } from "../types.ts";
import type { StackSummary } from "../../cli/api_types.ts";
import { isMapping } from "../../spec/problems.ts";
import { validateServiceName } from "../../spec/mod.ts";
import { deployFile } from "./services.ts";
import { queryFlag } from "../params.ts";

const ORDER = ["failing", "degraded", "pending", "starting", "stopped", "ready"];

/** Adds the stack routes to `app`. */
export function addStackRoutes(app: Hono, deps: ApiDeps, maxBodyBytes: number): void {
  app.get("/api/v1/stacks", (c) => c.json({ stacks: stacks(deps) }));
  app.post("/api/v1/stacks", async (c) => {
    const body = await readLimitedBody(c.req.raw, maxBodyBytes);
    const request = readEnvelope(body);
    return c.json(
      await deployFile(deps, request.file, {
        ...(request.filename ? { filename: request.filename } : {}),
        ...(request.stack ? { stack: request.stack } : {}),
        variables: request.variables,
        files: request.files,
      }, queryFlag(c.req.query("dryRun"))),
    );
  });
  app.delete("/api/v1/stacks/:name", async (c) => {
    const name = c.req.param("name");
    const removed = validateServiceName(name) === undefined
      ? await deps.services.removeStack(name)
      : [];
    if (removed.length === 0) {
      throw new ApiError(
        404,
        "not_found",
        `no stack named ${JSON.stringify(name)}; list them with \`fossora stacks\``,
      );
    }
    return c.json({ removed });
  });
}

/** The stacks, from the services that name one. */
function stacks(deps: ApiDeps): StackSummary[] {
  const byStack = new Map<string, StackSummary>();
  for (const record of deps.view.services()) {
    const stack = record.spec.stack;
    if (!stack) continue;
    const entry = byStack.get(stack) ??
      { name: stack, url: null, state: "ready", services: [] };
    const summary = summarizeService(deps.view, record, deps.domain, deps.proxyProblem);
    entry.services.push(summary);
    if (record.spec.front && summary.url) entry.url = `http://${stack}.${deps.domain}/`;
    if (ORDER.indexOf(summary.state) < ORDER.indexOf(entry.state)) entry.state = summary.state;
    byStack.set(stack, entry);
  }
  return [...byStack.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** What `POST /api/v1/stacks` takes. */
interface Envelope {
  file: string;
  filename?: string;
  stack?: string;
  variables: Record<string, string>;
  files: Record<string, string>;
}

function readEnvelope(body: Uint8Array): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw bad('the body is not JSON; send {"file": "<compose file text>", ...}');
  }
  if (!isMapping(value) || typeof value.file !== "string") {
    throw bad('send {"file": "<compose file text>", "stack"?, "variables"?, "files"?}');
  }
  for (const key of Object.keys(value)) {
    if (!["file", "filename", "stack", "variables", "files"].includes(key)) {
      throw bad(
        `unknown key ${JSON.stringify(key)}; the keys are file, filename, stack, ` +
          "variables and files",
      );
    }
  }
  for (const key of ["filename", "stack"] as const) {
    if (value[key] !== undefined && typeof value[key] !== "string") {
      throw bad(`${key} must be a string`);
    }
  }
  return {
    file: value.file,
    ...(typeof value.filename === "string" ? { filename: value.filename } : {}),
    ...(typeof value.stack === "string" ? { stack: value.stack } : {}),
    variables: stringMap(value.variables, "variables"),
    files: stringMap(value.files, "files"),
  };
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isMapping(value) || !Object.values(value).every((v) => typeof v === "string")) {
    throw bad(`${what} must be a mapping of name to text`);
  }
  const map: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(value)) map[k] = v as string;
  return map;
}

function bad(message: string): ApiError {
  return new ApiError(400, "invalid_request", message);
}
