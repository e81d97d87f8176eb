/**
 * The storage engine the config picks (`sql_type`): SQLite, the embedded default, or PostgreSQL
 * for those who outgrow one machine. Either way the rest of the server sees the same typed
 * stores (stores.ts); only this file knows which engine is underneath.
 */
import type pg from "pg";
import type { SqlConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import { SqliteStorage } from "./sqlite.js";
import { sqliteStores } from "./sqlite/index.js";
import { SqliteArchiveStore } from "./sqlite/archive.js";
import { describePg, openPgPool } from "./pg/connect.js";
import { pgStores } from "./pg/index.js";
import type { Stores } from "./stores.js";
import { timeWrites as timePgWrites } from "./pg/write-timing.js";
import { WriteTimer } from "./write-timer.js";

export interface StorageEngine {
  readonly kind: "sqlite" | "pgsql";
  /** Where the data lives, for messages to admins: a file, or a database and its server. */
  readonly location: string;
  readonly stores: Stores;
  /** The SQLite database, for modules that bring their own tables (ctx.migrate); else undefined. */
  readonly sqlite: SqliteStorage | undefined;
  /** The PostgreSQL pool, when that is the engine (parleyctl export2sql copies into it). */
  readonly pg: pg.Pool | undefined;
  /** How long each write took, commit included (the server sends it to its metrics). */
  readonly writes: WriteTimer;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** SQLite: how long a statement waits for another process's write lock. */
  busyTimeoutMs?: number;
}

export async function openStorage(
  config: SqlConfig,
  log: Logger,
  opts: OpenOptions = {},
): Promise<StorageEngine> {
  const writes = new WriteTimer();
  if (config.sqlType === "pgsql") {
    const cfg = config.pgsql;
    if (!cfg) throw new Error("sql_type is pgsql but no PostgreSQL settings were read");
    const location = describePg(cfg, config.sqlDatabase);
    const pool = await openPgPool(cfg, config.sqlDatabase, (err) =>
      log.error({ err, storage: location }, "a PostgreSQL connection failed while idle"),
    );
    try {
      await warnUnlessDurable(pool, location, log);
      const stores = await pgStores(pool);
      timePgWrites(pool, writes);
      return {
        kind: "pgsql",
        location,
        stores,
        sqlite: undefined,
        pg: pool,
        writes,
        close: () => pool.end(),
      };
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot prepare the ${location}: ${(err as Error).message}`, { cause: err });
    }
  }
  const storage = new SqliteStorage(config.sqlDatabase, {
    synchronous: config.sqliteSynchronous,
    writeTimer: writes,
    ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}),
  });
  // Archive appends (every message, with MAM on) commit on a thread of their own; an in-memory
  // database has no file a second connection could open.
  const archive = new SqliteArchiveStore(
    storage.db,
    config.sqlDatabase === ":memory:"
      ? undefined
      : {
          file: config.sqlDatabase,
          ...(config.sqliteSynchronous !== undefined && { synchronous: config.sqliteSynchronous }),
          ...(opts.busyTimeoutMs !== undefined && { busyTimeoutMs: opts.busyTimeoutMs }),
        },
    undefined,
    writes,
  );
  return {
    kind: "sqlite",
    location: `SQLite database ${config.sqlDatabase}`,
    stores: sqliteStores(storage.db, archive),
    sqlite: storage,
    pg: undefined,
    writes,
    close: async () => {
      await archive.close();
      storage.close();
    },
  };
}

/**
 * An acknowledgement waits for its commit; with fsync or synchronous_commit off, PostgreSQL
 * answers a commit before it is on disk, and a crash of its machine loses what was acknowledged.
 * Its admin may have chosen that: say so, do not refuse.
 */
async function warnUnlessDurable(pool: pg.Pool, location: string, log: Logger): Promise<void> {
  const r = await pool.query<{ fsync: string; synchronous_commit: string }>(
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit",
  );
  const { fsync, synchronous_commit } = r.rows[0]!;
  if (fsync === "off" || synchronous_commit === "off") {
    log.warn(
      { storage: location, fsync, synchronous_commit },
      "PostgreSQL answers commits before they are on disk (fsync or synchronous_commit is off): acknowledged messages and other commits may be lost in a crash of its machine",
    );
  }
}
