/**
 * parleyctl's module commands, as ejabberdctl's (ext_mod): module_install, module_uninstall,
 * modules_installed, modules_update_specs. A module is an npm package (a name from the registry,
 * or a local tarball or folder), installed into <data_dir>/modules/ — a folder of its own with
 * its own package.json and node_modules, so third-party code never lands in Parley's tree — and
 * enabled in the config file under `modules:` with `path:` to its entry file and every option at
 * its default. The config file is edited as a YAML document, so its comments and layout stay.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isMap, parseDocument } from "yaml";
import { EMBEDDED_DEFAULTS_FILE, type ServerConfig } from "../config/config.js";
import { UsageError } from "./common.js";

/** What parleyctl remembers of an installed module (<data_dir>/modules/parley-modules.json). */
interface Installed {
  package: string;
  version: string;
  /** The module's entry file, absolute: the config's `path:`. */
  entry: string;
}
type Manifest = Record<string, Installed>;

interface PackageJson {
  name: string;
  version: string;
  main?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
}

/** The folder modules are installed into. */
export function modulesDir(config: ServerConfig): string {
  return join(config.dataDir, "modules");
}

const manifestPath = (config: ServerConfig) => join(modulesDir(config), "parley-modules.json");

function readManifest(config: ServerConfig): Manifest {
  const file = manifestPath(config);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Manifest) : {};
}

function writeManifest(config: ServerConfig, manifest: Manifest): void {
  writeFileSync(manifestPath(config), `${JSON.stringify(manifest, null, 2)}\n`);
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;

/** Runs npm in `dir`; rejects with what npm said when it fails. */
function npm(dir: string, args: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn("npm", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", fail);
    child.on("close", (code) =>
      code === 0 ? done() : fail(new Error(`npm ${args[0]} failed (${code}):\n${err.trim()}`)),
    );
  });
}

/** Where an `exports` value sends `import()`: a path, or the "." / import / default entry. */
function exportTarget(e: unknown): string | undefined {
  if (typeof e === "string") return e;
  if (typeof e !== "object" || e === null) return undefined;
  const o = e as Record<string, unknown>;
  return exportTarget(o["."] ?? o.import ?? o.default);
}

/** The file `import(name)` loads: the package's "." export, or its main, or index.js. */
function entryOf(pkgDir: string): string {
  const pkg = readJson<PackageJson>(join(pkgDir, "package.json"));
  return resolve(pkgDir, exportTarget(pkg.exports) ?? pkg.main ?? "index.js");
}

interface LoadedModule {
  name: string;
  options: Record<string, { default?: unknown }>;
}

/** Imports the entry and checks it default-exports a module, as the server's loader will. */
async function loadModule(entry: string): Promise<LoadedModule> {
  const mod = ((await import(pathToFileURL(entry).href)) as { default?: Partial<LoadedModule> })
    .default;
  if (!mod || typeof mod.name !== "string" || typeof mod.options !== "object" || !mod.options) {
    throw new Error(`${entry} does not default-export a Parley module (name, options, start)`);
  }
  return mod as LoadedModule;
}

/** The YAML form of a default: ejabberd writes unlimited as `infinity`. */
const yamlValue = (v: unknown): unknown => (v === Infinity ? "infinity" : v);

function configFile(config: ServerConfig): string {
  if (config.file === EMBEDDED_DEFAULTS_FILE) {
    throw new UsageError("module commands edit the config file: name it with --config PATH");
  }
  return config.file;
}

/** Edits the config file as a YAML document (comments and order stay). */
function editConfig(config: ServerConfig, edit: (doc: ReturnType<typeof parseDocument>) => void) {
  const file = configFile(config);
  const doc = parseDocument(readFileSync(file, "utf8"));
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
  edit(doc);
  writeFileSync(file, String(doc));
}

/** The dependencies npm recorded in the modules folder. */
const dependencies = (dir: string) =>
  readJson<PackageJson>(join(dir, "package.json")).dependencies ?? {};

export async function moduleInstall(config: ServerConfig, spec: string): Promise<string[]> {
  const file = configFile(config);
  const dir = modulesDir(config);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, "package.json"))) {
    writeFileSync(
      join(dir, "package.json"),
      `${JSON.stringify({ name: "parley-modules", private: true, dependencies: {} }, null, 2)}\n`,
    );
  }
  // A local tarball or folder by absolute path: npm would read a relative one against `dir`.
  const local = !isAbsolute(spec) && existsSync(spec) ? resolve(spec) : spec;
  const before = dependencies(dir);
  // The module's peer dependency, Parley itself, is the server that loads it: not installed
  // again here (--legacy-peer-deps leaves peers alone).
  await npm(dir, ["install", "--save", "--legacy-peer-deps", "--no-audit", "--no-fund", local]);
  const after = dependencies(dir);
  const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
  if (changed.length !== 1) {
    throw new Error(`${spec} is installed already (see modules_installed), or is not one package`);
  }
  const pkgName = changed[0]!;
  const pkgDir = join(dir, "node_modules", pkgName);
  const { version } = readJson<PackageJson>(join(pkgDir, "package.json"));
  const entry = entryOf(pkgDir);
  const mod = await loadModule(entry);
  editConfig(config, (doc) => {
    const present = doc.getIn(["modules", mod.name]);
    if (present !== undefined) {
      throw new Error(`${file} has ${mod.name} under modules already; remove it first`);
    }
    const options: Record<string, unknown> = { path: entry };
    for (const [key, spec] of Object.entries(mod.options)) {
      if (spec.default !== undefined) options[key] = yamlValue(spec.default);
    }
    if (!isMap(doc.get("modules"))) doc.set("modules", doc.createNode({}));
    doc.setIn(["modules", mod.name], doc.createNode(options));
  });
  writeManifest(config, {
    ...readManifest(config),
    [mod.name]: { package: pkgName, version, entry },
  });
  return [
    `installed ${pkgName}@${version} (${mod.name}) into ${dir}`,
    `enabled ${mod.name} in ${file} with its default options; ` +
      `parleyctl reload_config starts it on a running server`,
  ];
}

/** NAME is a module name (mod_motd) or its package's name. */
function find(manifest: Manifest, name: string): [string, Installed] {
  const hit = Object.entries(manifest).find(([mod, i]) => mod === name || i.package === name);
  if (!hit) throw new Error(`${name} is not an installed module (see modules_installed)`);
  return hit;
}

export async function moduleUninstall(config: ServerConfig, name: string): Promise<string[]> {
  const manifest = readManifest(config);
  const [mod, installed] = find(manifest, name);
  const file = configFile(config);
  // Off in the config first: a server started in between must not look for removed files.
  editConfig(config, (doc) => void doc.deleteIn(["modules", mod]));
  await npm(modulesDir(config), ["uninstall", "--save", "--legacy-peer-deps", installed.package]);
  delete manifest[mod];
  writeManifest(config, manifest);
  return [
    `removed ${mod} from ${file} and uninstalled ${installed.package}; ` +
      `parleyctl reload_config stops it on a running server`,
  ];
}

export function modulesInstalled(config: ServerConfig): string[] {
  const enabled = config.modules;
  return Object.entries(readManifest(config)).map(
    ([mod, i]) =>
      `${mod} ${i.package} ${i.version}${Object.hasOwn(enabled, mod) ? "" : " (not enabled)"}`,
  );
}

/**
 * ejabberd's modules_update_specs refreshes what it knows of the modules it can install; npm's
 * registry is always current, so here it re-reads what is installed (a package updated by hand
 * with npm in the folder): each module's version, entry file and name, and the config's
 * `path:` if the entry moved.
 */
export async function modulesUpdateSpecs(config: ServerConfig): Promise<string[]> {
  const manifest = readManifest(config);
  const lines: string[] = [];
  const next: Manifest = {};
  for (const [mod, i] of Object.entries(manifest)) {
    const pkgDir = join(modulesDir(config), "node_modules", i.package);
    if (!existsSync(join(pkgDir, "package.json"))) {
      lines.push(`${mod}: ${i.package} is gone from ${dirname(pkgDir)}; forgotten`);
      continue;
    }
    const { version } = readJson<PackageJson>(join(pkgDir, "package.json"));
    const entry = entryOf(pkgDir);
    const loaded = await loadModule(entry);
    if (loaded.name !== mod) throw new Error(`${i.package} now names its module ${loaded.name}`);
    if (entry !== i.entry) {
      editConfig(config, (doc) => {
        if (doc.getIn(["modules", mod]) !== undefined) doc.setIn(["modules", mod, "path"], entry);
      });
    }
    next[mod] = { package: i.package, version, entry };
    lines.push(
      `${mod} ${i.package} ${version}${version === i.version ? "" : ` (was ${i.version})`}`,
    );
  }
  writeManifest(config, next);
  return lines;
}
