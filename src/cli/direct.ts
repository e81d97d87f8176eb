/**
 * Account commands on the database file itself, for when no server runs. Other parleyctl runs
 * (an admin script starting many at once) may hold the write lock for a moment: wait for it,
 * within a bound, rather than fail.
 */
import Database from "better-sqlite3";
import type { ServerConfig } from "../config/config.js";
import { isBusyError, SqliteStorage } from "../storage/sqlite.js";
import { Accounts } from "../auth/accounts.js";
import { SqliteAccountStore } from "../storage/sqlite/accounts.js";
import {
  runAccountCommand,
  type AccountBackend,
  type AccountCommand,
} from "../control/account-commands.js";
import type { ControlResponse } from "../control/protocol.js";
import { UsageError } from "./common.js";
import { openStorage } from "../storage/engine.js";
import { createLogger } from "../log.js";

/** How long parleyctl waits for the lock in all, unless PARLEYCTL_LOCK_TIMEOUT says otherwise. */
const DEFAULT_LOCK_TIMEOUT_S = 30;

/** Waits shorter than this are ordinary contention and pass silently. */
const QUIET_WAIT_MS = 1000;

export class DatabaseLocked extends Error {}

/** The bound on waiting for the lock, from PARLEYCTL_LOCK_TIMEOUT (seconds), in milliseconds. */
export function lockTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.PARLEYCTL_LOCK_TIMEOUT;
  if (raw === undefined || raw === "") return DEFAULT_LOCK_TIMEOUT_S * 1000;
  if (!/^\d+(\.\d+)?$/.test(raw)) {
    throw new UsageError(`PARLEYCTL_LOCK_TIMEOUT must be a number of seconds, not '${raw}'`);
  }
  return Number(raw) * 1000;
}

/**
 * Runs the command in its own connection, with SQLite's busy_timeout doing the waiting. The loop
 * is for the cases where SQLite gives up without waiting (a lock needed while opening or
 * checkpointing the WAL): try again until the bound has passed. A failed attempt changed
 * nothing (each command is one transaction), so trying again is safe.
 */
export async function runDirect(
  config: ServerConfig,
  command: AccountCommand,
  args: string[],
  opts: { timeoutMs: number; onWait: (message: string) => void },
): Promise<ControlResponse> {
  // PostgreSQL takes concurrent writers itself (and its migrations under an advisory lock).
  if (config.sqlType === "pgsql") return runOnEngine(config, command, args);
  const file = config.sqlDatabase;
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  let told = false;
  for (;;) {
    const now = Date.now();
    // Wait quietly at first; past that, the admin is told why nothing happens.
    const until = told ? deadline : Math.min(deadline, start + QUIET_WAIT_MS);
    let storage: SqliteStorage | null = null;
    try {
      storage = new SqliteStorage(file, { busyTimeoutMs: Math.max(0, until - now) });
      // The account store alone: the other stores' migrations are the server's to apply, not
      // every one of many parleyctl runs at once.
      const accounts = new Accounts(new SqliteAccountStore(storage.db));
      const backend: AccountBackend = {
        accounts,
        hosts: () => config.hosts,
        unregister: (user, host) => accounts.unregister(user, host),
      };
      return await runAccountCommand(backend, command, args);
    } catch (err) {
      if (err instanceof Database.SqliteError && !isBusyError(err)) {
        // SQLite's own words ("unable to open database file") do not say which file.
        throw new Error(`cannot use the database ${file}: ${err.message}`, { cause: err });
      }
      if (!isBusyError(err)) throw err;
    } finally {
      storage?.close();
    }
    if (Date.now() >= deadline) {
      throw new DatabaseLocked(
        `the database ${file} is locked by another process and stayed locked for ` +
          `${seconds(opts.timeoutMs)} s; nothing was changed. Try again, or set ` +
          `PARLEYCTL_LOCK_TIMEOUT (seconds) to wait longer`,
      );
    }
    if (!told && Date.now() - start >= QUIET_WAIT_MS) {
      told = true;
      opts.onWait(
        `parleyctl: the database ${file} is locked by another process; ` +
          `waiting up to ${seconds(opts.timeoutMs)} s`,
      );
    }
    // SQLite may have given up without waiting: pause a little rather than spin.
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
  }
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

async function runOnEngine(
  config: ServerConfig,
  command: AccountCommand,
  args: string[],
): Promise<ControlResponse> {
  const engine = await openStorage(config, createLogger("error", process.stderr));
  try {
    const accounts = new Accounts(engine.stores.accounts);
    return await runAccountCommand(
      { accounts, hosts: () => config.hosts, unregister: (u, h) => accounts.unregister(u, h) },
      command,
      args,
    );
  } finally {
    await engine.close();
  }
}
