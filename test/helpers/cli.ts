/** Runs the package's commands from source, as `npx parley` or `npx parleyctl` would from a build. */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `python`, when given, is a Python script run with the command line as its argv[1:]: it starts
 * the command itself, with the pipe or terminal a test needs, and its output is what returns.
 */
export function runCli(
  cli: "parley" | "parleyctl",
  args: string[],
  timeoutMs = 20_000,
  /** `python`: a Python driver script the CLI runs under (a pseudo-terminal, say). */
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; python?: string } = {},
): Promise<CliRun> {
  const script = fileURLToPath(new URL(`../../src/cli/${cli}.ts`, import.meta.url));
  return new Promise((resolve, reject) => {
    // tsx by its full address: `--import tsx` would be looked up from the child's cwd.
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const command = [process.execPath, "--import", tsx, script, ...args];
    const { python, ...spawnOpts } = opts;
    const [file, ...argv] = python ? ["python3", "-c", python, ...command] : command;
    const child = spawn(file!, argv, { stdio: ["ignore", "pipe", "pipe"], ...spawnOpts });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
