import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The package compiled from the current sources, laid out as npm installs it. */
export interface BuiltPackage {
  dir: string;
  /** Runs bin/<name>.js with plain node, as `npx parleyctl` would. */
  run(name: "parley" | "parleyctl", args: string[], env?: NodeJS.ProcessEnv): Promise<CommandRun>;
  /** Starts bin/<name>.js and hands back the child, for tests that act while it runs. */
  start(name: "parley" | "parleyctl", args: string[], env?: NodeJS.ProcessEnv): Running;
  remove(): void;
}

export interface Running {
  pid: number | undefined;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves once stderr contains `text`. */
  stderrIncludes(text: string): Promise<void>;
  done: Promise<CommandRun>;
}

/** Runs a command to its end, collecting its output; rejects only if it cannot start. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandRun> {
  const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Compiles the package of the checkout at `root` (tsconfig.build.json: src/ and modules/) into
 * `outDir`, by default its dist/.
 */
export async function compile(root: string, extra: string[] = [], outDir?: string): Promise<void> {
  const tsc = join(ROOT, "node_modules/typescript/bin/tsc");
  const out = outDir ? ["--outDir", outDir] : [];
  const args = [tsc, "-p", join(root, "tsconfig.build.json"), ...out, ...extra];
  const r = await runCommand(process.execPath, args);
  if (r.code !== 0) throw new Error(`tsc failed (${r.code}):\n${r.stdout}${r.stderr}`);
}

/**
 * Compiles src/ and modules/ into a temporary folder with bin/, dist/ and the project's
 * node_modules, so tests that start hundreds of processes pay for node alone: running each
 * through tsx costs about three times the CPU.
 */
export async function buildPackage(): Promise<BuiltPackage> {
  const dir = mkdtempSync(join(tmpdir(), "parley-pkg-"));
  try {
    await compile(ROOT, ["--declaration", "false", "--sourceMap", "false"], join(dir, "dist"));
    copyFileSync(join(ROOT, "package.json"), join(dir, "package.json"));
    mkdirSync(join(dir, "bin"));
    for (const b of ["parley.js", "parleyctl.js"]) {
      copyFileSync(join(ROOT, "bin", b), join(dir, "bin", b));
    }
    symlinkSync(realpathSync(join(ROOT, "node_modules")), join(dir, "node_modules"), "dir");
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const start = (name: string, args: string[], env?: NodeJS.ProcessEnv): Running => {
    const child = spawn(process.execPath, [join(dir, "bin", `${name}.js`), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    const watchers: { text: string; resolve: () => void }[] = [];
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      for (const w of watchers.filter((w) => stderr.includes(w.text))) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve();
      }
    });
    const done = new Promise<CommandRun>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    return {
      pid: child.pid,
      stderr: () => stderr,
      stderrIncludes: (text) =>
        stderr.includes(text)
          ? Promise.resolve()
          : Promise.race([
              new Promise<void>((resolve) => watchers.push({ text, resolve })),
              done.then((r) => {
                throw new Error(`exited (${r.code}) without writing '${text}': ${r.stderr}`);
              }),
            ]),
      done,
    };
  };
  return {
    dir,
    start,
    run: (name, args, env) => start(name, args, env).done,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
