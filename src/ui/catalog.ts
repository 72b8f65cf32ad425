/**
 * The app catalog: plain compose files in `catalog/`, each with an `x-fossora-app` block (which
 * compose ignores) that names the app, says what it is, lists the architectures its images
 * support and the settings a person is asked for. Installing one deploys the file as it is,
 * with the settings as its variables: the same path as pasting it on the Deploy page.
 * @module
 */
import { parse } from "yaml";
import { isMapping } from "../spec/problems.ts";

/** A setting asked for in the install form, filled in as the variable `name`. */
export interface CatalogSetting {
  name: string;
  label: string;
  kind: "text" | "password" | "path" | "timezone" | "choice";
  default?: string;
  options?: string[];
  help?: string;
}

/** One app of the catalog. */
export interface CatalogApp {
  /** The file's name without `.yml`: the stack's name by default. */
  id: string;
  title: string;
  about: string;
  website?: string;
  arch: string[];
  settings: CatalogSetting[];
  /** Its services' images. */
  images: string[];
  /** Named volumes (kept by fossora) and host paths (which the nodes must have), as written. */
  volumes: string[];
  hostPaths: string[];
  /** The compose file, exactly as in `catalog/`. */
  file: string;
}

/** The apps, sorted by title. */
export interface Catalog {
  apps: CatalogApp[];
}

const KINDS = ["text", "password", "path", "timezone", "choice"];

/** Reads one catalog file; throws an Error naming what is wrong (a bug in the repository). */
export function readCatalogApp(id: string, file: string): CatalogApp {
  const bad = (what: string) => new Error(`catalog/${id}.yml: ${what}`);
  let doc: unknown;
  try {
    doc = parse(file);
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
  if (!isMapping(doc) || !isMapping(doc["x-fossora-app"]) || !isMapping(doc.services)) {
    throw bad("needs services: and an x-fossora-app: block");
  }
  const meta = doc["x-fossora-app"];
  for (const key of ["title", "about"]) {
    if (typeof meta[key] !== "string") throw bad(`x-fossora-app.${key} must be text`);
  }
  if (!Array.isArray(meta.arch) || !meta.arch.every((a) => typeof a === "string")) {
    throw bad("x-fossora-app.arch must list architectures");
  }
  const settings = ((meta.settings ?? []) as unknown[]).map((s, i) => {
    if (!isMapping(s) || typeof s.name !== "string" || typeof s.label !== "string") {
      throw bad(`x-fossora-app.settings[${i}] needs a name and a label`);
    }
    const kind = (s.kind ?? "text") as CatalogSetting["kind"];
    if (!KINDS.includes(kind)) {
      throw bad(`x-fossora-app.settings[${i}].kind is not one of ${KINDS}`);
    }
    if (kind === "choice" && !Array.isArray(s.options)) throw bad(`settings[${i}] needs options`);
    return {
      name: s.name,
      label: s.label,
      kind,
      ...(s.default === undefined ? {} : { default: String(s.default) }),
      ...(Array.isArray(s.options) ? { options: s.options.map(String) } : {}),
      ...(typeof s.help === "string" ? { help: s.help } : {}),
    };
  });
  const images: string[] = [];
  const volumes = new Set<string>();
  const hostPaths = new Set<string>();
  for (const def of Object.values(doc.services)) {
    if (!isMapping(def)) continue;
    if (typeof def.image === "string") images.push(def.image);
    for (const v of (Array.isArray(def.volumes) ? def.volumes : [])) {
      if (typeof v !== "string") continue;
      // `${MEDIA_PATH:-/srv/media}:/media`: shown with the setting's default.
      const [source, target] = v.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, n, d) => d ?? n)
        .split(":");
      if (/^[\/.~$]/.test(source)) hostPaths.add(`${source} at ${target}`);
      else volumes.add(source);
    }
  }
  return {
    id,
    title: meta.title as string,
    about: meta.about as string,
    ...(typeof meta.website === "string" ? { website: meta.website } : {}),
    arch: meta.arch as string[],
    settings,
    images: [...new Set(images)],
    volumes: [...volumes],
    hostPaths: [...hostPaths],
    file,
  };
}

/** The catalog in `dir` (default the repository's `catalog/`, built into the program). */
export function loadCatalog(dir = new URL("../../catalog/", import.meta.url)): Catalog {
  const apps: CatalogApp[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".yml")) continue;
    const id = entry.name.slice(0, -4);
    apps.push(readCatalogApp(id, Deno.readTextFileSync(new URL(entry.name, dir))));
  }
  return { apps: apps.sort((a, b) => a.title.localeCompare(b.title)) };
}
