/**
 * A stack's secrets and configs as files a container mounts. The content is kept in etcd; the
 * node that runs a replica writes it under its data directory, in a folder only root can enter,
 * so the file's own mode (0444 unless the compose file says otherwise, as compose gives it) is
 * what the container's user sees, while no other user of the node can reach it.
 * @module
 */
import type { BindSpec, FileMount, ServiceSpec } from "../state/types.ts";

/** Reads a stack's secret or config (`secret:NAME` or `config:NAME`); undefined when absent. */
export type ReadStackFile = (stack: string, key: string) => Promise<string | undefined>;

/** Writes and removes the files of the replicas on this node. */
export class MountedFiles {
  readonly #dir: string;
  readonly #read: ReadStackFile;

  /** `dir` is made mode 0700; `read` fetches a file's content from the cluster. */
  constructor(dir: string, read: ReadStackFile) {
    this.#dir = dir;
    this.#read = read;
  }

  /**
   * Writes the files of one replica and returns the bind mounts that put them where the
   * compose file mounts them. Throws, with what to do, when the cluster has no such file.
   */
  async prepare(spec: ServiceSpec, replica: number): Promise<BindSpec[]> {
    const files = spec.files ?? [];
    if (files.length === 0 || !spec.stack) return [];
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(this.#dir, 0o700);
    const folder = this.#folder(spec.name, replica);
    await Deno.mkdir(folder, { recursive: true, mode: 0o755 });
    const binds: BindSpec[] = [];
    for (const file of files) {
      const key = `${file.secret ? "secret" : "config"}:${file.name}`;
      const content = await this.#read(spec.stack, key);
      if (content === undefined) {
        throw new Error(
          `the ${file.secret ? "secret" : "config"} ${file.name} of stack ${spec.stack} is ` +
            "missing from the cluster; deploy the stack again with `fossora deploy FILE`",
        );
      }
      const source = `${folder}/${key.replace(":", "-")}`;
      await writeFile(source, content, file);
      binds.push({ source, path: file.path, readOnly: true });
    }
    return binds;
  }

  /** Removes one replica's files, once its container is gone. */
  async release(service: string, replica: number): Promise<void> {
    await Deno.remove(this.#folder(service, replica), { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }

  #folder(service: string, replica: number): string {
    return `${this.#dir}/${service}/${replica}`;
  }
}

/** Writes through a temporary name, so a container never mounts half a file. */
async function writeFile(path: string, content: string, file: FileMount): Promise<void> {
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, content, { mode: 0o600 });
  if (file.uid !== undefined || file.gid !== undefined) {
    const id = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
    await Deno.chown(tmp, id(file.uid), id(file.gid));
  }
  await Deno.chmod(tmp, file.mode ?? 0o444);
  await Deno.rename(tmp, path);
}
