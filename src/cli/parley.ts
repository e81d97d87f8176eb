import cluster from "node:cluster";
import { Server } from "../server.js";
import { takeWorkerFlags, type WorkerFlags } from "../workers/cli-options.js";
import { NODE_NAME_ENV } from "../config/cluster.js";
import {
  configFile,
  describeError,
  exitAfterFlush,
  packageVersion,
  resolveConfig,
  takeConfigOption,
  UsageError,
} from "./common.js";

const USAGE = `usage: parley [--config PATH] [--workers auto|N] [--node-name NAME]
       parley [--config PATH] --check-config [PATH]

Starts the Parley XMPP server. Without --config it uses config/parley.yml from the package.
--check-config checks a config file and starts nothing: it prints every error and warning with
its line, and exits 1 if there is an error.
--workers runs N worker processes (auto: one per core) sharing the listening ports, under a
primary process that restarts them; it needs a clustered config (see docs/scaling.md).
--node-name names this node of a cluster (instead of the config's node_name).`;

const NOT_CLUSTERED =
  "parley: cannot start: --workers needs a clustered config: sm_db_type: redis (with " +
  "router_db_type: redis and the redis_* options) and sql_type: pgsql, so that the workers " +
  "share sessions and data (see docs/scaling.md)";

/** Entry point of `parley`: load the config, start, and stop cleanly on SIGINT/SIGTERM. */
async function main(argv: string[]): Promise<number> {
  let configPath: string | null;
  let check: { file: string | null } | null;
  let flags: WorkerFlags;
  try {
    const opts = takeConfigOption(argv);
    flags = takeWorkerFlags(opts.rest);
    if (flags.rest.includes("--help") || flags.rest.includes("-h")) {
      console.log(USAGE);
      return 0;
    }
    if (flags.rest.includes("--version")) {
      console.log(packageVersion());
      return 0;
    }
    check = checkConfigArgs(flags.rest);
    if (!check && flags.rest.length > 0) {
      throw new UsageError(`unknown argument: ${flags.rest[0]}`);
    }
    configPath = opts.configPath;
  } catch (err) {
    console.error(`parley: ${describeError(err)}\n${USAGE}`);
    return 2;
  }
  // The config parser reads it (config.cluster.nodeName). A worker's is its own name, which
  // its primary has set.
  if (flags.nodeName !== null && !cluster.isWorker) process.env[NODE_NAME_ENV] = flags.nodeName;
  if (check) return checkConfig(check.file ?? configFile(configPath));
  if (flags.workers !== null) return startWorkers(configPath, flags.workers);

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

/** `--workers`: this process is the primary, or (forked by it) one of the workers. */
async function startWorkers(configPath: string | null, count: number): Promise<number> {
  // Loaded only here: one process needs none of it.
  if (cluster.isWorker) return (await import("../workers/worker.js")).runWorker(configPath);
  let config;
  try {
    config = resolveConfig(configPath);
  } catch (err) {
    console.error(`parley: cannot start: ${describeError(err)}`);
    return 1;
  }
  const clustered = config.cluster;
  if (!clustered) {
    console.error(NOT_CLUSTERED);
    return 1;
  }
  const { runPrimary } = await import("../workers/primary.js");
  return runPrimary({ ...config, cluster: clustered }, count);
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
