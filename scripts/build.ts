/**
 * `deno task build`: the `fossora` executable in dist/. `deno compile` makes a single binary when
 * it can get its `denort` runtime (online, or DENORT_BIN set to one); offline it cannot, and the
 * build makes the same program as one bundled file run by the deno runtime, and says which.
 */
const out = new URL("../dist/", import.meta.url).pathname;
const main = new URL("../src/main.ts", import.meta.url).pathname;
await Deno.mkdir(out, { recursive: true });

async function run(args: string[]): Promise<boolean> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  return code === 0;
}

const target = Deno.args.find((a) => a.startsWith("--target="))?.slice(9);
const compiled = await run([
  "compile",
  "-A",
  "--unstable-net",
  ...(target ? [`--target=${target}`] : []),
  `--output=${out}fossora`,
  main,
]);
if (compiled) {
  console.log(`built ${out}fossora: a single executable (deno compile)`);
  Deno.exit(0);
}
console.error("deno compile could not get its runtime (offline?); bundling instead");
if (!(await run(["bundle", "--platform=deno", `--output=${out}fossora.js`, main]))) Deno.exit(1);
const launcher =
  `#!/bin/sh\nexec "\${FOSSORA_DENO:-deno}" run -A --unstable-net "$(dirname "$0")/fossora.js" "$@"\n`;
await Deno.writeTextFile(`${out}fossora`, launcher, { mode: 0o755 });
console.log(
  `built ${out}fossora.js with launcher ${out}fossora: needs a deno runtime (FOSSORA_DENO)`,
);
