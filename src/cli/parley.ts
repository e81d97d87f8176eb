import { Server } from "../server.js";
import {
  configFile,
  describeError,
  exitAfterFlush,
  packageVersion,
  resolveConfig,
  takeConfigOption,
  UsageError,
} from "./common.js";

const USAGE = `usage: parley [--config PATH]
       parley [--config PATH] --check-config [PATH]

Starts the Parley XMPP server. Without --config it uses config/parley.yml from the package.
--check-config checks a config file and starts nothing: it prints every error and warning with
its line, and exits 1 if there is an error.`;

/** Entry point of `parley`: load the config, start, and stop cleanly on SIGINT/SIGTERM. */
async function main(argv: string[]): Promise<number> {
  let configPath: string | null;
  let check: { file: string | null } | null;
  try {
    const opts = takeConfigOption(argv);
    if (opts.rest.includes("--help") || opts.rest.includes("-h")) {
      console.log(USAGE);
      return 0;
    }
    if (opts.rest.includes("--version")) {
      console.log(packageVersion());
      return 0;
    }
    check = checkConfigArgs(opts.rest);
    if (!check && opts.rest.length > 0) {
      throw new UsageError(`unknown argument: ${opts.rest[0]}`);
    }
    configPath = opts.configPath;
  } catch (err) {
    console.error(`parley: ${describeError(err)}\n${USAGE}`);
    return 2;
  }
  if (check) return checkConfig(check.file ?? configFile(configPath));

  let server: Server;
  try {
    const config = resolveConfig(configPath);
    server = await Server.start(config, { onStopRequested: () => void shutdown("parleyctl stop") });
  } catch (err) {
    // A failed start says why and exits non-zero, before anything listens.
    console.error(`parley: cannot start: ${describeError(err)}`);
    return 1;
  }

  let stopping = false;
  async function shutdown(why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    server.log.info({ why }, "stopping");
    await server.stop();
    exitAfterFlush(0);
  }
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  return -1; // keep running
}

/** `--check-config [PATH]` or `--check-config=PATH`, when the arguments are that. */
function checkConfigArgs(rest: string[]): { file: string | null } | null {
  const [first, ...more] = rest;
  if (first?.startsWith("--check-config=")) {
    if (more.length > 0) throw new UsageError(`unknown argument: ${more[0]}`);
    return { file: first.slice("--check-config=".length) };
  }
  if (first !== "--check-config") return null;
  if (more.length > 1) throw new UsageError(`unknown argument: ${more[1]}`);
  return { file: more[0] ?? null };
}

/** Prints every problem of the file; 1 when one of them is an error. */
async function checkConfig(file: string | null): Promise<number> {
  if (file === null) {
    console.log(
      "no config file (no --config, no config/parley.yml): the embedded defaults are used",
    );
    return 0;
  }
  // Loaded only here: a start needs none of it.
  const { checkConfigFile } = await import("./check-config.js");
  const report = await checkConfigFile(file);
  for (const line of report.lines) console.log(line);
  return report.errors > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exitAfterFlush(code);
  },
  (err: unknown) => {
    console.error(`parley: ${describeError(err)}`);
    exitAfterFlush(1);
  },
);
