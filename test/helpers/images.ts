/**
 * Images built for another architecture than this machine's, to test placement by platform
 * without a registry: the test image saved, its config's architecture changed, loaded again
 * under a new name. Nothing can run it here, and nothing needs to.
 * @module
 */
import { BUSYBOX_IMAGE } from "./hosts.ts";
import { must, run } from "./run.ts";

/**
 * Makes `fossora-test/only-ARCH:1` in the engine at `dockerHost` (default: this machine's)
 * unless it is there, and returns its name.
 */
export async function foreignImage(arch: string, dockerHost?: string): Promise<string> {
  const image = `fossora-test/only-${arch}:1`;
  const docker = (...args: string[]) =>
    dockerHost ? ["docker", "-H", dockerHost, ...args] : ["docker", ...args];
  if ((await run(docker("image", "inspect", image))).code === 0) return image;
  const dir = await Deno.makeTempDir({ prefix: "fossora-image-" });
  try {
    await must(["sh", "-c", `${docker("save", BUSYBOX_IMAGE).join(" ")} | tar -C "$0" -x`, dir]);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
    const config = JSON.parse(await Deno.readTextFile(`${dir}/${manifest[0].Config}`));
    config.architecture = arch;
    await Deno.remove(`${dir}/${manifest[0].Config}`);
    await Deno.remove(`${dir}/repositories`).catch(() => {});
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    manifest[0].Config = "config.json";
    manifest[0].RepoTags = [image];
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest));
    await must(["sh", "-c", `tar -C "$0" -c . | ${docker("load").join(" ")}`, dir]);
    return image;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
