import { Server } from "../server.js";
import {
  describeError,
  exitAfterFlush,
  packageVersion,
  resolveConfig,
  takeConfigOption,
  UsageError,
} from "./common.js";

const USAGE = `usage: parley [--config PATH]

Starts the Parley XMPP server. Without --config it uses config/parley.yml from the package.`;

/** Entry point of `parley`: load the config, start, and stop cleanly on SIGINT/SIGTERM. */
async function main(argv: string[]): Promise<number> {
  let configPath: string | null;
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
    if (opts.rest.length > 0) throw new UsageError(`unknown argument: ${opts.rest[0]}`);
    configPath = opts.configPath;
  } catch (err) {
    console.error(`parley: ${describeError(err)}\n${USAGE}`);
    return 2;
  }

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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exitAfterFlush(code);
  },
  (err: unknown) => {
    console.error(`parley: ${describeError(err)}`);
    exitAfterFlush(1);
  },
);
