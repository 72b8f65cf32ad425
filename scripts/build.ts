/**
 * `deno task build`: the `fossora` program in dist/. `deno compile` makes a single executable when
 * it can get its `denort` runtime (online, or DENO_RUNTIME set to one); offline it cannot, and the
 * build makes `dist/fossora-app/` (sources, lock file and node_modules, runnable with
 * `--cached-only`) with a `dist/fossora` launcher that needs a deno runtime. It says which it made.
 * (`deno bundle` is no way out: grpc-js and protobufjs read files next to their own code.)
 */
const root = new URL("..", import.meta.url).pathname;
const out = `${root}dist/`;
await Deno.remove(out, { recursive: true }).catch(() => {});
await Deno.mkdir(out, { recursive: true });

async function run(cmd: string, args: string[]): Promise<boolean> {
  const { code } = await new Deno.Command(cmd, { args, stdout: "inherit", stderr: "inherit" })
    .output();
  return code === 0;
}

const target = Deno.args.find((a) => a.startsWith("--target="))?.slice(9);
const compiled = await run(Deno.execPath(), [
  "compile",
  "-A",
  "--unstable-net",
  // The web UI's app catalog, read at run time from beside the program's modules.
  `--include=${root}catalog/`,
  ...(target ? [`--target=${target}`] : []),
  `--output=${out}fossora`,
  `${root}src/main.ts`,
]);
if (compiled) {
  console.log(`built ${out}fossora: a single executable (deno compile)`);
  Deno.exit(0);
}
console.error("deno compile could not get its runtime (offline?); making a launcher instead");
const app = `${out}fossora-app`;
await Deno.mkdir(app);
for (const part of ["src", "catalog", "deno.json", "deno.lock", "node_modules"]) {
  if (!(await run("cp", ["-a", `${root}${part}`, `${app}/`]))) Deno.exit(1);
}
const launcher = `#!/bin/sh
app="$(dirname "$(readlink -f "$0")")/fossora-app"
exec "\${FOSSORA_DENO:-deno}" run -A --cached-only --config "$app/deno.json" "$app/src/main.ts" "$@"
`;
await Deno.writeTextFile(`${out}fossora`, launcher, { mode: 0o755 });
console.log(`built ${out}fossora, a launcher for ${app}/: needs a deno runtime (FOSSORA_DENO)`);
