// Threads of the SQLite driver (the archive writer, the checkpointer), started from the build's
// JavaScript or from the TypeScript sources.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * The thread whose entry is the module `name` beside `here` (the caller's import.meta.url), from
 * the build's JavaScript, or from the TypeScript sources when the caller runs under tsx (tests,
 * tools run from source): a worker does not inherit tsx's loader, so it is loaded through tsx's
 * API there.
 */
export function spawnThread(here: string, name: string, workerData: unknown): Worker {
  if (!here.endsWith(".ts")) {
    return new Worker(new URL(`./${name}.js`, here), { workerData });
  }
  const entry = JSON.stringify(new URL(`./${name}.ts`, here).href);
  const tsx = JSON.stringify(tsxEsmApi(here));
  return new Worker(`import(${tsx}).then((m) => m.tsImport(${entry}, ${entry}));`, {
    eval: true,
    workerData,
  });
}

/**
 * The URL of tsx's ESM API (its "./esm/api" export, import condition), found from here: the
 * thread's eval has no module to resolve it from, and tsx's CommonJS build of it cannot load
 * there.
 */
function tsxEsmApi(here: string): string {
  let dir = dirname(createRequire(here).resolve("tsx/esm/api"));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  return pathToFileURL(join(dir, pkg.exports["./esm/api"]!.import.default)).href;
}
