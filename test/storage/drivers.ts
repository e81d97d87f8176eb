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

const sqlite: Driver = {
  name: "SQLite",
  async open() {
    const dir = mkdtempSync(join(tmpdir(), "parley-store-"));
    const file = join(dir, "parley.db");
    const storage = new SqliteStorage(file);
    const stores = sqliteStores(storage.db);
    return {
      stores,
      ...usersThrough(stores),
      connect: () => sqliteElsewhere(file),
      async close() {
        storage.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

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
      close: () => pool.end(),
    };
  },
};

export const DRIVERS: readonly Driver[] = [sqlite, postgres];
