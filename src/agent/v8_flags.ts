/**
 * V8 flags the agent runs with, passed as DENO_V8_FLAGS (which a compiled binary reads too; baking
 * them in with `deno compile --v8-flags` would also cap the compiler's own heap). A small young
 * generation and a cap on the old one make V8 collect sooner: under proxy load the agent's RSS
 * peaks near 110 MiB instead of 230 MiB, at no measured cost in requests/s (bench/). Keep in step
 * with the `start` task in deno.json and systemd/fossora.service.
 */
export const AGENT_V8_FLAGS = "--max-semi-space-size=1,--max-old-space-size=128";
