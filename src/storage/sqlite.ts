import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { HOST_STORE_TABLES } from "./host-stores.js";
import { applyMigrations, type Migration } from "./migrations.js";

/** Tables the core owns. Modules bring their own through `Storage.migrate`. */
const CORE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE users (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (host, username)
      );
      -- RFC 5802 §3: the server keeps only salted keys, never the password.
      CREATE TABLE scram_credentials (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        hash TEXT NOT NULL,
        salt BLOB NOT NULL,
        iterations INTEGER NOT NULL,
        stored_key BLOB NOT NULL,
        server_key BLOB NOT NULL,
        PRIMARY KEY (host, username, hash),
        FOREIGN KEY (host, username) REFERENCES users(host, username) ON DELETE CASCADE
      );
      CREATE TABLE keyval (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        store TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (host, username, store)
      );
      CREATE TABLE map (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        store TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (host, username, store, key)
      );
    `,
  },
  {
    // Keys of the same password as clients that prepare it otherwise (unprepared, SASLprep),
    // with the salt and iteration count of its scram_credentials row (see passwordVariants).
    version: 2,
    up: `
      CREATE TABLE scram_alternates (
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        hash TEXT NOT NULL,
        n INTEGER NOT NULL,
        stored_key BLOB NOT NULL,
        server_key BLOB NOT NULL,
        PRIMARY KEY (host, username, hash, n),
        FOREIGN KEY (host, username) REFERENCES users(host, username) ON DELETE CASCADE
      );
    `,
  },
  {
    // XEP-0133 §4.3: a disabled account keeps its data but cannot log in.
    version: 3,
    up: `ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;`,
  },
  { version: 4, up: HOST_STORE_TABLES },
];

/**
 * How long one statement waits for another connection's write lock before SQLITE_BUSY. The server
 * waits with its event loop blocked (better-sqlite3 is synchronous), so it should seldom have to:
 * while it runs, parleyctl asks it over the control socket instead of writing the file.
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface SqliteOptions {
  /** busy_timeout for this connection, in milliseconds. */
  busyTimeoutMs?: number;
  /**
   * `full` (the default) fsyncs every commit, so what was acknowledged survives a power loss;
   * `normal` survives a crash of the process only (WAL mode), for admins who trade that away.
   */
  synchronous?: "full" | "normal";
}

/**
 * The SQLite backend: one database file, WAL mode so readers never wait for the writer, and
 * versioned migrations.
 */
export class SqliteStorage {
  readonly db: Database.Database;

  constructor(
    readonly path: string,
    opts: SqliteOptions = {},
  ) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // First, so that the WAL switch and the migrations below wait for a lock too.
    this.db.pragma(
      `busy_timeout = ${Math.max(0, Math.round(opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS))}`,
    );
    this.db.pragma("journal_mode = WAL");
    // FULL fsyncs the WAL at every commit: an acknowledgement that depends on a commit (an
    // offline message, XEP-0198) then holds across a power loss, not only a process crash.
    // Group commits (mod_offline) keep it to one fsync per batch.
    this.db.pragma(`synchronous = ${opts.synchronous === "normal" ? "NORMAL" : "FULL"}`);
    this.db.pragma("foreign_keys = ON");
    applyMigrations(this.db, "core", CORE_MIGRATIONS);
  }

  migrate(owner: string, migrations: Migration[]): void {
    applyMigrations(this.db, owner, migrations);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * True for SQLite's "another connection holds the lock" errors (SQLITE_BUSY and its extended
 * codes such as SQLITE_BUSY_SNAPSHOT, which SQLite returns without waiting at all).
 */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_BUSY");
}
