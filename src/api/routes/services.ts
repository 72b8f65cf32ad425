/**
 * Routes that list, show, create, update and remove services.
 * @module
 */
import type { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { readLimitedBody } from "../body.ts";
import { describeService, summarizeService } from "../summary.ts";
import type { ApiDeps } from "../types.ts";
import { type ParseOptions, type StackFiles, validateServiceName } from "../../spec/mod.ts";
import type { ServiceSpec } from "../../state/types.ts";
import type { DeployAnswer, DeployedService } from "../../cli/api_types.ts";
import { sameContainers, specChanges } from "../../state/spec_diff.ts";
import { queryFlag } from "../params.ts";

/** The 404 for a service that does not exist. */
export function serviceNotFound(name: string): ApiError {
  return new ApiError(
    404,
    "not_found",
    `no service named ${JSON.stringify(name)}; list them with \`fossora services\``,
  );
}

/** Adds the service routes (not logs) to `app`. */
export function addServiceRoutes(app: Hono, deps: ApiDeps, maxBodyBytes: number): void {
  const existing = (name: string) => {
    const record = isServiceName(name) ? deps.view.service(name) : undefined;
    if (!record) throw serviceNotFound(name);
    return record;
  };
  app.get("/api/v1/services", (c) =>
    c.json({
      services: deps.view.services().map((s) =>
        summarizeService(deps.view, s, deps.domain, deps.proxyProblem)
      ),
    }));
  app.post("/api/v1/services", async (c) => {
    const body = await readLimitedBody(c.req.raw, maxBodyBytes);
    const stack = c.req.query("stack");
    return c.json(
      await deployFile(deps, body, {
        contentType: c.req.header("content-type"),
        ...(stack === undefined ? {} : { stack }),
      }, queryFlag(c.req.query("dryRun"))),
    );
  });
  app.get("/api/v1/services/:name", (c) => {
    const name = c.req.param("name");
    const record = deps.view.service(name);
    if (!record) throw serviceNotFound(name);
    return c.json(describeService(deps.view, record, deps.domain, deps.proxyProblem));
  });
  app.post("/api/v1/services/:name/scale", async (c) => {
    const record = existing(c.req.param("name"));
    const replicas = readReplicas(await readLimitedBody(c.req.raw, 1024));
    const [result] = await deps.services.apply([{ ...record.spec, replicas }]);
    return c.json({ ...result, replicas });
  });
  app.post("/api/v1/services/:name/restart", async (c) => {
    const name = existing(c.req.param("name")).spec.name;
    if (!(await deps.services.restart(name))) throw serviceNotFound(name);
    return c.json({ restarted: name });
  });
  app.delete("/api/v1/services/:name", async (c) => {
    const name = c.req.param("name");
    // A name no service can have (a/b, ../x) never reaches the store.
    if (!isServiceName(name)) throw serviceNotFound(name);
    if (!(await deps.services.remove(name))) throw serviceNotFound(name);
    return c.json({ removed: name });
  });
}

/** `{"replicas": N}` with N in 0..100, or a 400 that says so. */
function readReplicas(body: Uint8Array): number {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    value = undefined;
  }
  const replicas = (value as { replicas?: unknown } | undefined)?.replicas;
  if (!Number.isInteger(replicas) || (replicas as number) < 0 || (replicas as number) > 100) {
    throw new ApiError(
      400,
      "invalid_request",
      'send {"replicas": N} with N a whole number from 0 to 100',
    );
  }
  return replicas as number;
}

/** The most services, old services and files one stack deploy writes (etcd's limit is 128). */
const MAX_STACK_OPS = 120;
/** The most bytes of specs and files one stack deploy writes (etcd takes 1.5 MiB a request). */
const MAX_STACK_BYTES = 1024 * 1024;

/** A plain service's name, or a stack service's `SERVICE.STACK`. */
export function isServiceName(name: string): boolean {
  const parts = name.split(".");
  return parts.length <= 2 && parts.every((part) => validateServiceName(part) === undefined);
}

/**
 * Reads a service file or compose file and applies it: plain services, or a stack with its
 * secrets (and the removal of the services the stack no longer has). A name used both as a
 * stack and as a plain service is refused, since `NAME.DOMAIN` would name both.
 */
export async function deployFile(
  deps: ApiDeps,
  body: Uint8Array | string,
  options: ParseOptions,
  dryRun = false,
): Promise<DeployAnswer> {
  const result = deps.parseServiceFile(body, {
    ...options,
    ...(deps.reservedPorts ? { reservedPorts: deps.reservedPorts() } : {}),
  });
  if (!result.ok) {
    const n = result.problems.length;
    throw new ApiError(
      400,
      "invalid_spec",
      `the service file has ${n} problem${n === 1 ? "" : "s"}; nothing was changed`,
      result.problems,
    );
  }
  if (result.services.length === 0) {
    throw new ApiError(400, "invalid_spec", "the service file defines no service", [
      { path: "", message: "write one service, a list of them, or a compose `services:` map" },
    ]);
  }
  const existing = deps.view.services();
  if (result.stack) {
    const name = result.stack.name;
    if (existing.some((r) => r.spec.name === name && !r.spec.stack)) {
      throw new ApiError(409, "name_taken", `a service is named ${name} already`, [{
        path: "",
        message: `stack name '${name}' is a service's name; deploy with --stack OTHER (or ` +
          "?stack=OTHER)",
      }]);
    }
    const ops = result.services.length + Object.keys(result.stack.files).length +
      existing.filter((r) => r.spec.stack === name).length;
    const bytes = JSON.stringify(result.services).length +
      Object.values(result.stack.files).reduce((n, f) => n + f.content.length, 0);
    if (ops > MAX_STACK_OPS || bytes > MAX_STACK_BYTES) {
      // One etcd transaction carries the whole stack: etcd takes 128 operations and 1.5 MiB.
      throw new ApiError(400, "stack_too_large", `stack ${name} is too large to deploy at once`, [{
        path: "",
        message: `it has ${ops} services and files (at most ${MAX_STACK_OPS}) and ${bytes} ` +
          `bytes of settings and files (at most ${MAX_STACK_BYTES}); split it into stacks`,
      }]);
    }
    const key = deps.peerToken?.();
    if (key) await versionFiles(result.services, result.stack, key);
    if (dryRun) {
      const removed = existing.filter((r) =>
        r.spec.stack === name && !result.services.some((s) => s.name === r.spec.name)
      ).map((r) => r.spec.name);
      return { ...preview(deps, result.services), stack: name, removed, warnings: result.warnings };
    }
    const applied = await deps.services.applyStack(result.stack, result.services);
    return { ...applied, stack: name, warnings: result.warnings };
  }
  for (const spec of result.services) {
    if (existing.some((r) => r.spec.stack === spec.name)) {
      throw new ApiError(409, "name_taken", `a stack is named ${spec.name}`, [{
        path: "",
        message: `service name '${spec.name}' is a stack's name; rename the service`,
      }]);
    }
  }
  if (dryRun) return { ...preview(deps, result.services), warnings: result.warnings };
  const applied = await deps.services.apply(result.services);
  return { services: applied, warnings: result.warnings };
}

/** What applying `specs` would do, from this node's copy of the state; nothing is written. */
function preview(
  deps: ApiDeps,
  specs: ServiceSpec[],
): { dryRun: true; services: DeployedService[] } {
  return {
    dryRun: true,
    services: specs.map((spec) => {
      const old = deps.view.service(spec.name);
      if (!old) {
        return { name: spec.name, generation: 1, created: true, changed: true, changes: [] };
      }
      const changes = specChanges(old.spec, spec);
      const rolls = !sameContainers(old.spec, spec);
      return {
        name: spec.name,
        generation: old.generation + (rolls ? 1 : 0),
        created: false,
        changed: changes.length > 0,
        changes,
        rolls,
      };
    }),
  };
}

/** Sets each mounted file's `version` from its content (see FileMount). */
async function versionFiles(
  specs: ServiceSpec[],
  stack: StackFiles,
  key: string,
): Promise<void> {
  const hmac = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  for (const spec of specs) {
    for (const file of spec.files ?? []) {
      const id = `${file.secret ? "secret" : "config"}:${file.name}`;
      const content = stack.files[id]?.content ?? "";
      const mac = await crypto.subtle.sign(
        "HMAC",
        hmac,
        new TextEncoder().encode(`${id}\0${content}`),
      );
      file.version = [...new Uint8Array(mac).slice(0, 8)].map((b) =>
        b.toString(16).padStart(2, "0")
      )
        .join("");
    }
  }
}
