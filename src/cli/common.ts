import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, defaultConfig, loadConfig, type ServerConfig } from "../config/config.js";

/** The folder holding Parley's package.json (works from src/ under tsx and from dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "parley-xmpp"
    ) {
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Splits `--config PATH` (or `--config=PATH`) out of argv. */
export function takeConfigOption(argv: string[]): { configPath: string | null; rest: string[] } {
  const rest: string[] = [];
  let configPath: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--config" || a === "-c") {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError("--config needs a path");
      configPath = next;
      i++;
    } else if (a.startsWith("--config=")) {
      configPath = a.slice("--config=".length);
    } else {
      rest.push(a);
    }
  }
  return { configPath, rest };
}

export class UsageError extends Error {}

/**
 * The config named on the command line, else the package's config/parley.yml, else the
 * embedded defaults (domain localhost, data in ./data).
 */
export function resolveConfig(configPath: string | null): ServerConfig {
  const file = configFile(configPath);
  return file !== null ? loadConfig(file) : defaultConfig(process.cwd());
}

/** The file resolveConfig reads; null when it takes the embedded defaults. */
export function configFile(configPath: string | null): string | null {
  if (configPath) return configPath;
  const bundled = join(packageRoot(), "config", "parley.yml");
  return existsSync(bundled) ? bundled : null;
}

export function describeError(err: unknown): string {
  if (err instanceof ConfigError) return `configuration error: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Exits once stdout and stderr have taken everything written to them. process.exit() alone
 * drops what a pipe has not accepted yet: Linux shrinks a pipe to one page when its user holds
 * many, and an admin script reading `registered_users` then saw the list cut after 4 KiB.
 */
export function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}
