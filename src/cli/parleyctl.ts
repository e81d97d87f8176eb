import type { ServerConfig } from "../config/config.js";
import { ControlUnreachable, sendControl } from "../control/client.js";
import type { ControlResponse } from "../control/protocol.js";
import { usageProblem, type AccountCommand } from "../control/account-commands.js";
import {
  describeError,
  exitAfterFlush,
  resolveConfig,
  takeConfigOption,
  UsageError,
} from "./common.js";
import { formatStats, runTop } from "./stats.js";

/** Exit codes as ejabberdctl's. */
const OK = 0;
const ERROR = 1;
const USAGE_ERROR = 2;
const UNREACHABLE = 3;

/** Account commands may hash passwords or delete many rows: give the server time. */
const ACCOUNT_TIMEOUT_MS = 60_000;

/**
 * restart_workers starts each new worker and waits for the old one to hand its clients over,
 * one worker after the other: minutes on a machine with many cores.
 */
const RESTART_TIMEOUT_MS = 60 * 60_000;

interface Command {
  args: string[];
  /** Arguments that may follow `args`, shown in brackets. */
  optional?: string[];
  help: string;
  run(config: ServerConfig, args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  register: {
    args: ["USER", "HOST", "PASSWORD"],
    help: "Register a user",
    run: (config, args) => account(config, "register", args),
  },
  unregister: {
    args: ["USER", "HOST"],
    help: "Unregister a user (and close their sessions if the server runs)",
    run: (config, args) => account(config, "unregister", args),
  },
  change_password: {
    args: ["USER", "HOST", "NEWPASS"],
    help: "Change the password of an account",
    run: (config, args) => account(config, "change_password", args),
  },
  registered_users: {
    args: ["HOST"],
    help: "List the users registered on HOST",
    run: (config, args) => account(config, "registered_users", args),
  },
  connected_users: {
    args: [],
    help: "List the full JIDs of all bound sessions",
    run: (config) => remote(config, "connected_users", []),
  },
  incoming_s2s_number: {
    args: [],
    help: "Number of incoming server-to-server links (authenticated)",
    run: (config) => remote(config, "incoming_s2s_number", []),
  },
  outgoing_s2s_number: {
    args: [],
    help: "Number of outgoing server-to-server links (established)",
    run: (config) => remote(config, "outgoing_s2s_number", []),
  },
  kick_session: {
    args: ["USER", "HOST", "RESOURCE", "REASON"],
    help: "Disconnect one session, telling it REASON",
    run: (config, args) => remote(config, "kick_session", args),
  },
  status: {
    args: [],
    help: "Tell whether the server runs, with its session count and uptime",
    run: (config) => remote(config, "status", []),
  },
  list_cluster: {
    args: [],
    help: "The cluster's running nodes, one per line (on one node: this one)",
    run: (config) => remote(config, "list_cluster", []),
  },
  stats: {
    args: [],
    optional: ["NAME"],
    help: "Figures of the running server: all, or one (registeredusers, onlineusers, uptimeseconds, queued_stanzas, ...)",
    run: (config, args) => remote(config, "stats", args),
  },
  top: {
    args: [],
    optional: ["--once", "COUNT"],
    help: "The sessions with the longest outbound queues, redrawn every second until Ctrl-C",
    async run(config, args) {
      try {
        return await runTop(
          args,
          (a) => sendControl(config.controlSocket, "top", a),
          (res) => report("top", res),
        );
      } catch (err) {
        if (err instanceof ControlUnreachable) return unreachable(err);
        throw err;
      }
    },
  },
  reload_config: {
    args: [],
    help: "Re-read the config file and apply it without dropping connections",
    run: (config) => remote(config, "reload_config", []),
  },
  stop: {
    args: [],
    help: "Stop the server",
    run: (config) => remote(config, "stop", []),
  },
  list_workers: {
    args: [],
    help: "The workers of a server started with --workers: slot, node name, pid, uptime, state, connections",
    run: (config) => remote(config, "list_workers", []),
  },
  restart_workers: {
    args: [],
    optional: ["SLOT"],
    help: "Replace the workers of a server started with --workers one at a time (or the one in SLOT), with the code now installed; prints old -> new for each",
    run: (config, args) => remote(config, "restart_workers", args, RESTART_TIMEOUT_MS),
  },
  export2sql: {
    args: ["TARGET_CONFIG"],
    help: "Copy all data of the stopped server's SQLite database into the PostgreSQL database of TARGET_CONFIG",
    async run(config, [target]) {
      // Loaded only here: the other commands need no database driver in this process.
      const { export2sql } = await import("./export2sql.js");
      const report = await export2sql(config, target!);
      for (const t of report.tables) console.log(`${t.table}: ${t.rows}`);
      const rows = report.tables.reduce((n, t) => n + t.rows, 0);
      console.log(`copied ${rows} rows in ${report.tables.length} tables`);
      return OK;
    },
  },
  module_install: {
    args: ["NAME"],
    help: "Install the module in npm package NAME (or a tarball or folder) into <data_dir>/modules and enable it in the config",
    run: (config, [name]) => modules((m) => m.moduleInstall(config, name!)),
  },
  module_uninstall: {
    args: ["NAME"],
    help: "Remove the installed module NAME (module or package name) from the config and uninstall it",
    run: (config, [name]) => modules((m) => m.moduleUninstall(config, name!)),
  },
  modules_installed: {
    args: [],
    help: "List the installed modules: name, package, version",
    run: (config) => modules(async (m) => m.modulesInstalled(config)),
  },
  modules_update_specs: {
    args: [],
    help: "Re-read the installed modules' packages (versions, entry files)",
    run: (config) => modules((m) => m.modulesUpdateSpecs(config)),
  },
  module_new: {
    args: ["NAME"],
    help: "Create a folder NAME (mod_...) with a new module, its test on the test kit and a README",
    async run(_config, [name]) {
      const { moduleNew } = await import("./module-new.js");
      for (const line of moduleNew(name!)) console.log(line);
      return OK;
    },
  },
};

/** Runs a module command (loaded only for these) and prints its lines. */
async function modules(
  fn: (m: typeof import("./module-commands.js")) => Promise<string[]>,
): Promise<number> {
  for (const line of await fn(await import("./module-commands.js"))) console.log(line);
  return OK;
}

function usage(moduleLines: string[] = []): string {
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) =>
      `  ${[name, ...c.args, ...(c.optional ?? []).map((a) => `[${a}]`)].join(" ").padEnd(44)} ${c.help}`,
  );
  const modules =
    moduleLines.length > 0
      ? `\n\nCommands of the running server's modules:\n${moduleLines.join("\n")}`
      : `\n\nModules offer more commands (mod_offline: get_offline_count, delete_old_messages);\n` +
        `they are listed here while the server runs.`;
  return `usage: parleyctl [--config PATH] COMMAND [ARGS...]\n\nCommands:\n${lines.join("\n")}${modules}`;
}

/** The running server's module commands, for help; none when it is not reachable. */
async function moduleCommands(configPath: string | null): Promise<string[]> {
  try {
    const res = await sendControl(resolveConfig(configPath).controlSocket, "module_commands", []);
    return res.ok && Array.isArray(res.result) ? res.result : [];
  } catch {
    return [];
  }
}

/**
 * An account command goes to the running server, so that only the server writes the database
 * while it runs (and sees the change at once). With no server, parleyctl opens the file itself.
 */
async function account(
  config: ServerConfig,
  command: AccountCommand,
  args: string[],
): Promise<number> {
  const problem = usageProblem(command, args);
  if (problem) throw new UsageError(problem);
  try {
    return report(
      command,
      await sendControl(config.controlSocket, command, args, ACCOUNT_TIMEOUT_MS),
    );
  } catch (err) {
    if (!(err instanceof ControlUnreachable)) throw err;
    if (!err.notRunning) return unreachable(err);
  }
  // Loaded only here: the common case, a running server, needs no SQLite in this process.
  const { lockTimeoutMs, runDirect } = await import("./direct.js");
  const res = await runDirect(config, command, args, {
    timeoutMs: lockTimeoutMs(),
    onWait: (message) => console.error(message),
  });
  return report(command, res);
}

/**
 * A name parleyctl does not know may be a command of one of the server's modules
 * (ctx.command): only the running server can answer it, arguments and all.
 */
function moduleCommand(name: string): Command {
  return {
    args: [],
    help: "",
    async run(config, args) {
      try {
        return report(
          name,
          await sendControl(config.controlSocket, name, args, ACCOUNT_TIMEOUT_MS),
        );
      } catch (err) {
        if (!(err instanceof ControlUnreachable)) throw err;
        console.error(
          `${name} is not a parleyctl command, and the server, whose modules may offer it, ` +
            `cannot be asked: ${err.message}`,
        );
        return UNREACHABLE;
      }
    },
  };
}

async function remote(
  config: ServerConfig,
  command: string,
  args: string[],
  timeoutMs?: number,
): Promise<number> {
  try {
    return report(command, await sendControl(config.controlSocket, command, args, timeoutMs));
  } catch (err) {
    if (err instanceof ControlUnreachable) return unreachable(err);
    throw err;
  }
}

function unreachable(err: ControlUnreachable): number {
  console.error(`Failed to reach the Parley server: ${err.message}`);
  return UNREACHABLE;
}

/** Prints an answer as ejabberdctl would and gives the exit code. */
function report(command: string, res: ControlResponse): number {
  if (!res.ok) {
    console.error(res.error);
    return res.usage ? USAGE_ERROR : ERROR;
  }
  const r = res.result;
  if (Array.isArray(r)) for (const line of r) console.log(line);
  else if (typeof r === "string") {
    if (r) console.log(r);
  } else if (command === "status") {
    console.log(
      `Parley is ${String(r.status)}: ${String(r.sessions)} sessions, ${String(r.connections)} connections, ` +
        `up ${String(r.uptimeSeconds)} s, hosts ${(r.hosts as string[]).join(", ")}`,
    );
  } else if (command === "stats") {
    for (const line of formatStats(r)) console.log(line);
  } else console.log(JSON.stringify(r));
  return OK;
}

async function main(argv: string[]): Promise<number> {
  let configPath: string | null;
  let rest: string[];
  try {
    ({ configPath, rest } = takeConfigOption(argv));
  } catch (err) {
    console.error(`${describeError(err)}\n${usage()}`);
    return USAGE_ERROR;
  }
  const [name, ...args] = rest;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(usage(name ? await moduleCommands(configPath) : []));
    return name ? OK : USAGE_ERROR;
  }
  const command = COMMANDS[name] ?? moduleCommand(name);
  const needed = command.args.length;
  const most = needed + (command.optional?.length ?? 0);
  // kick_session's REASON may be several words; every other command takes exactly its args
  // (a module's command is checked by the server, which knows its arguments).
  const known = Object.hasOwn(COMMANDS, name);
  if (known && (args.length < needed || (name !== "kick_session" && args.length > most))) {
    const optional = (command.optional ?? []).map((a) => `[${a}]`);
    console.error(`usage: parleyctl ${[name, ...command.args, ...optional].join(" ")}`);
    return USAGE_ERROR;
  }
  let config: ServerConfig;
  try {
    config = resolveConfig(configPath);
  } catch (err) {
    console.error(describeError(err));
    return ERROR;
  }
  try {
    return await command.run(config, args);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return USAGE_ERROR;
    }
    console.error(describeError(err));
    return ERROR;
  }
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err: unknown) => {
    console.error(describeError(err));
    exitAfterFlush(ERROR);
  },
);
