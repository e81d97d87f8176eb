import type { ServerConfig } from "../config/config.js";
import { SqliteStorage } from "../storage/sqlite.js";
import { AccountError, AccountStore } from "../auth/accounts.js";
import { ControlUnreachable, sendControl } from "../control/client.js";
import { describeError, resolveConfig, takeConfigOption, UsageError } from "./common.js";
import { deleteOldMessages, offlineCount } from "../../modules/mod_offline/store.js";

/** Exit codes as ejabberdctl's. */
const OK = 0;
const ERROR = 1;
const USAGE_ERROR = 2;
const UNREACHABLE = 3;

interface Command {
  args: string[];
  help: string;
  run(config: ServerConfig, args: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  register: {
    args: ["USER", "HOST", "PASSWORD"],
    help: "Register a user",
    run: (config, [user, host, password]) =>
      withAccounts(config, host!, async (accounts) => {
        const u = await accounts.register(user!, host!, password!);
        console.log(`User ${u}@${host} successfully registered`);
      }),
  },
  unregister: {
    args: ["USER", "HOST"],
    help: "Unregister a user (and close their sessions if the server runs)",
    run: async (config, [user, host]) => {
      const code = await withAccounts(config, host!, async (accounts) =>
        accounts.unregister(user!, host!),
      );
      if (code !== OK) return code;
      try {
        await sendControl(config.controlSocket, "kick_user", [
          AccountStore.prepUsername(user!),
          host!,
        ]);
      } catch (err) {
        if (!(err instanceof ControlUnreachable)) throw err;
      }
      return OK;
    },
  },
  change_password: {
    args: ["USER", "HOST", "NEWPASS"],
    help: "Change the password of an account",
    run: (config, [user, host, pass]) =>
      withAccounts(config, host!, (accounts) => accounts.changePassword(user!, host!, pass!)),
  },
  registered_users: {
    args: ["HOST"],
    help: "List the users registered on HOST",
    run: (config, [host]) =>
      withAccounts(config, host!, async (accounts) => {
        for (const u of accounts.list(host!)) console.log(u);
      }),
  },
  get_offline_count: {
    args: ["USER", "HOST"],
    help: "Print how many offline messages wait for USER@HOST",
    run: (config, [user, host]) =>
      withAccounts(config, host!, async () => {
        const username = AccountStore.prepUsername(user!);
        withDatabase(config, (db) => console.log(offlineCount(db, host!.toLowerCase(), username)));
      }),
  },
  delete_old_messages: {
    args: ["DAYS"],
    help: "Delete offline messages older than DAYS days, on every host",
    run: async (config, [days]) => {
      if (!/^\d+$/.test(days!))
        throw new UsageError("DAYS must be a whole number of days (0 or more)");
      withDatabase(config, (db) => console.log(deleteOldMessages(db, Number(days))));
      return OK;
    },
  },
  connected_users: {
    args: [],
    help: "List the full JIDs of all bound sessions",
    run: (config) => remote(config, "connected_users", []),
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
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${[name, ...c.args].join(" ").padEnd(44)} ${c.help}`,
  );
  return `usage: parleyctl [--config PATH] COMMAND [ARGS...]\n\nCommands:\n${lines.join("\n")}`;
}

async function withAccounts(
  config: ServerConfig,
  host: string,
  fn: (accounts: AccountStore) => Promise<unknown>,
): Promise<number> {
  if (!config.hosts.includes(host.toLowerCase())) {
    console.error(`Unknown virtual host: ${host} (served: ${config.hosts.join(", ")})`);
    return ERROR;
  }
  // Straight to the database: works whether or not the server runs (WAL allows both).
  const storage = new SqliteStorage(config.sqlDatabase);
  try {
    await fn(new AccountStore(storage.db));
    return OK;
  } catch (err) {
    if (err instanceof AccountError) {
      console.error(err.message);
      return ERROR;
    }
    throw err;
  } finally {
    storage.close();
  }
}

/** mod_offline's table, straight from the database file, whether or not the server runs. */
function withDatabase(config: ServerConfig, fn: (db: SqliteStorage["db"]) => void): void {
  const storage = new SqliteStorage(config.sqlDatabase);
  try {
    fn(storage.db);
  } finally {
    storage.close();
  }
}

async function remote(config: ServerConfig, command: string, args: string[]): Promise<number> {
  let res;
  try {
    res = await sendControl(config.controlSocket, command, args);
  } catch (err) {
    if (err instanceof ControlUnreachable) {
      console.error(`Failed to reach the Parley server: ${err.message}`);
      return UNREACHABLE;
    }
    throw err;
  }
  if (!res.ok) {
    console.error(res.error);
    return ERROR;
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
    console.log(usage());
    return name ? OK : USAGE_ERROR;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`Unknown command: ${name}\n${usage()}`);
    return USAGE_ERROR;
  }
  const needed = command.args.length;
  // kick_session's REASON may be several words; every other command takes exactly its args.
  if (args.length < needed || (name !== "kick_session" && args.length > needed)) {
    console.error(`usage: parleyctl ${[name, ...command.args].join(" ")}`);
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
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(describeError(err));
    process.exit(ERROR);
  },
);
