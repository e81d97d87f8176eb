// Parley as a module author gets it: `npm pack` of the package, installed by its name into a
// fresh folder that holds nothing else, so whatever the installed test kit or module API needs at
// run time must be one of the package's declared dependencies.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync } from "node:fs";
import { rmSync, symlinkSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile, runCommand, type CommandRun } from "./package.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [k: string]: unknown;
}
interface Lock {
  packages: Record<string, LockEntry>;
}
interface PackageJson {
  name: string;
  version: string;
  files: string[];
  dependencies: Record<string, string>;
  bin: Record<string, string>;
}

export interface InstalledPackage {
  /** The fresh project folder; its node_modules holds the package and its dependencies only. */
  dir: string;
  /** The package's name as installed (package.json's `name`). */
  name: string;
  /** Runs a command in `dir` with node_modules/.bin first on the PATH. */
  run(cmd: string, args: string[]): Promise<CommandRun>;
  remove(): void;
}

/** npm's own variables from a parent `npm test` (its prefix is this checkout) stay out. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      !k.toLowerCase().startsWith("npm_") ||
      /^npm_config_(cache|userconfig|registry)$/i.test(k)
    ) {
      env[k] = v;
    }
  }
  return env;
}

/**
 * Packs the current sources (compiled with their declarations, the files package.json lists)
 * and installs the tarball into a fresh folder with `npm ci --offline`.
 *
 * Where the dependencies come from: the folder's lock file is this checkout's package-lock.json
 * cut down to the package's own dependency tree (what its `dependencies` reach, at the versions
 * CI tested), so npm fetches nothing from the registry: every tarball is in the npm
 * cache that `npm ci` of the checkout filled (`.ci/run`). A run-time import of a devDependency
 * is therefore missing in the folder, as it would be for an author. Install scripts are skipped:
 * the one dependency that has one, better-sqlite3, gets the native binary the checkout's install
 * built or downloaded for the same version.
 */
export async function installPacked(): Promise<InstalledPackage> {
  const stage = mkdtempSync(join(tmpdir(), "parley-packed-"));
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;
    // A copy of the checkout, built there as `npm run build` builds it: the declarations'
    // references to src/types are relative, so they must be made where they are packed.
    const copy = join(stage, "pkg");
    for (const f of new Set([
      ...pkg.files,
      "package.json",
      "src",
      "tsconfig.json",
      "tsconfig.build.json",
    ])) {
      if (f !== "dist") cpSync(join(ROOT, f), join(copy, f), { recursive: true });
    }
    symlinkSync(realpathSync(join(ROOT, "node_modules")), join(copy, "node_modules"), "dir");
    await compile(copy, ["--sourceMap", "false"]);
    const env = npmEnv();
    const packed = await runCommand(
      "npm",
      ["pack", "--ignore-scripts", "--json", "--pack-destination", stage],
      { cwd: join(stage, "pkg"), env },
    );
    if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
    const tarball = (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename;

    const app = join(stage, "app");
    mkdirSync(app);
    const spec = `file:../${tarball}`;
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({
        name: "plugin-author",
        private: true,
        type: "module",
        dependencies: { [pkg.name]: spec },
      }),
    );
    writeFileSync(join(app, "package-lock.json"), JSON.stringify(appLock(pkg, spec)));
    const ci = await runCommand(
      "npm",
      ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
      { cwd: app, env },
    );
    if (ci.code !== 0) throw new Error(`npm ci of the packed tarball failed: ${ci.stderr}`);
    const native = "build/Release/better_sqlite3.node";
    const from = join(dirname(createRequire(ROOT).resolve("better-sqlite3/package.json")), native);
    mkdirSync(dirname(join(app, "node_modules/better-sqlite3", native)), { recursive: true });
    copyFileSync(from, join(app, "node_modules/better-sqlite3", native));
    const path = `${join(app, "node_modules", ".bin")}:${process.env.PATH ?? ""}`;
    return {
      dir: app,
      name: pkg.name,
      run: (cmd, args) => runCommand(cmd, args, { cwd: app, env: { ...env, PATH: path } }),
      remove: () => rmSync(stage, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(stage, { recursive: true, force: true });
    throw err;
  }
}

/** The checkout's lock, cut to the package's own dependency tree, under a root needing only it. */
function appLock(pkg: PackageJson, spec: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as Lock;
  const packages: Record<string, LockEntry> = {
    "": { name: "plugin-author", dependencies: { [pkg.name]: spec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      dependencies: pkg.dependencies,
      // npm ci links the commands the lock names: parley and parleyctl.
      bin: pkg.bin,
    },
  };
  // Node's resolution within the lock: the nearest node_modules/<name> up from the dependent.
  const locate = (name: string, from: string): string | undefined => {
    for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf("/node_modules/")))) {
      const path = `${at ? `${at}/` : ""}node_modules/${name}`;
      if (lock.packages[path]) return path;
      if (!at) return undefined;
    }
  };
  const visit = (deps: Record<string, string> | undefined, from: string): void => {
    for (const name of Object.keys(deps ?? {})) {
      const path = locate(name, from);
      if (!path || packages[path]) continue;
      const entry = lock.packages[path]!;
      // A lock entry without `resolved` makes npm ask the registry where the tarball is; with
      // the address, the cache answers by the entry's integrity.
      const real =
        (entry.name as string | undefined) ?? path.slice(path.lastIndexOf("node_modules/") + 13);
      const file = `${real.slice(real.lastIndexOf("/") + 1)}-${entry.version}.tgz`;
      packages[path] = { resolved: `https://registry.npmjs.org/${real}/-/${file}`, ...entry };
      visit({ ...entry.dependencies, ...entry.optionalDependencies }, path);
    }
  };
  visit(pkg.dependencies, "");
  return { name: "plugin-author", lockfileVersion: 3, requires: true, packages };
}
