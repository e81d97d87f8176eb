import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
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
];

/**
 * The SQLite backend: one database file, WAL mode so the admin CLI can read and write while the
 * server runs, and versioned migrations.
 */
export class SqliteStorage {
  readonly db: Database.Database;

  constructor(readonly path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last
    // commits); FULL would fsync on every commit.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    applyMigrations(this.db, "core", CORE_MIGRATIONS);
  }

  migrate(owner: string, migrations: Migration[]): void {
    applyMigrations(this.db, owner, migrations);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
