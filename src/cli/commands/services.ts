/**
 * `fossora services`: one row a service.
 * @module
 */
import type { ServicesAnswer } from "../api_types.ts";
import { type Context, printJson } from "../context.ts";
import { formatTable } from "../table.ts";
import type { ServiceSummary } from "../../api/mod.ts";

/** The services table: NAME IMAGE REPLICAS (running/wanted) NODES URL. */
export function servicesTable(services: ServiceSummary[]): string {
  if (services.length === 0) return "no services yet; deploy one with `fossora deploy FILE`\n";
  const problems = services.filter((s) => s.problem).map((s) => `${s.name}: ${s.problem}\n`);
  return formatTable(
    ["NAME", "IMAGE", "REPLICAS", "NODES", "URL"],
    services.map((s) => [
      s.name,
      s.image,
      `${s.running}/${s.replicas}`,
      s.nodes.join(",") || "-",
      s.url ?? (s.published.length ? s.published.map((p) => `tcp:${p}`).join(",") : "-"),
    ]),
  ) + (problems.length ? "\n" + problems.join("") : "");
}

/** Runs `fossora services`. */
export async function services(ctx: Context): Promise<number> {
  const answer = await ctx.client.json<ServicesAnswer>("GET", "/api/v1/services");
  if (ctx.args.json) printJson(ctx, answer);
  else ctx.io.stdout(servicesTable(answer.services));
  return 0;
}
