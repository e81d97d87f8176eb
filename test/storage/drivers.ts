/**
 * The storage drivers every conformance suite runs against (as Prosody's storage spec runs over
 * all its drivers): SQLite on a temporary file, PostgreSQL on a fresh database of a throwaway
 * cluster (test/helpers/postgres.ts). A suite does `for (const driver of DRIVERS)`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { SqliteStorage } from "../../src/storage/sqlite.js";
import { sqliteStores } from "../../src/storage/sqlite/index.js";
import { SqliteArchiveStore } from "../../src/storage/sqlite/archive.js";
import type { MergePolicy } from "../../src/storage/sqlite/archive-index.js";
import { pgStores } from "../../src/storage/pg/index.js";
import type { Stores } from "../../src/storage/stores.js";
import { pgCluster } from "../helpers/postgres.js";
import { sqliteElsewhere, type WorkerStores } from "./sqlite-elsewhere.js";

export interface OpenStores {
  stores: Stores;
  /** Makes an account exist (without credentials), for tables that reference users. */
  addUser(host: string, username: string): Promise<void>;
  /** Removes the account through the account store (with what references it). */
  dropUser(host: string, username: string): Promise<void>;
  /**
   * Another connection to the same database, working at the same time as this one, as another
   * process or node would: for SQLite in a worker thread (one thread never interleaves two
   * synchronous connections), for PostgreSQL another pool.
   */
  connect(): Promise<{ stores: WorkerStores; close(): Promise<void> }>;
  /** Runs SQL statements on the database directly (for migration tests). */
  exec(sql: string): Promise<void>;
  /** Applies the core's migrations not applied yet, as the next start would. */
  migrateAgain(): Promise<void>;
  close(): Promise<void>;
}

export interface Driver {
  name: string;
  open(): Promise<OpenStores>;
}

/** addUser and dropUser, through the account store of `stores`. */
function usersThrough(stores: Stores): Pick<OpenStores, "addUser" | "dropUser"> {
  return {
    addUser: (host, username) => stores.accounts.create(host, username, []),
    dropUser: async (host, username) => void (await stores.accounts.remove(host, username)),
  };
}

/** SQLite on a temporary file; `merge`: when its archive merges pending rows (archive-index.ts). */
const sqliteWith = (name: string, merge?: MergePolicy): Driver => ({
  name,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), "parley-store-"));
    const file = join(dir, "parley.db");
    const storage = new SqliteStorage(file);
    const stores = sqliteStores(
      storage.db,
      merge && new SqliteArchiveStore(storage.db, undefined, merge),
    );
    return {
      stores,
      ...usersThrough(stores),
      connect: () => sqliteElsewhere(file),
      exec: async (sql) => void storage.db.exec(sql),
      migrateAgain: async () => new SqliteStorage(file).close(),
      async close() {
        storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

const sqlite = sqliteWith("SQLite");

const postgres: Driver = {
  name: "PostgreSQL",
  async open() {
    const cluster = await pgCluster();
    const config = cluster.config(await cluster.createDatabase("stores"));
    const pool = new pg.Pool(config);
    const stores = await pgStores(pool);
    return {
      stores,
      ...usersThrough(stores),
      async connect() {
        const other = new pg.Pool(config);
        return { stores: await pgStores(other), close: () => other.end() };
      },
      exec: async (sql) => void (await pool.query(sql)),
      migrateAgain: async () => void (await pgStores(pool)),
      close: () => pool.end(),
    };
  },
};

export const DRIVERS: readonly Driver[] = [sqlite, postgres];

/**
 * The drivers for the archive's suites: SQLite's archive with its default merge policy (a test's
 * few rows all stay pending) and with one that merges a few at a time, which leaves an archive's
 * rows in both parts, in every proportion, as a busy server's are.
 */
export const ARCHIVE_DRIVERS: readonly Driver[] = [
  ...DRIVERS,
  sqliteWith("SQLite, merging pending rows two at a time", { pendingRows: 3, minChunk: 2 }),
];
