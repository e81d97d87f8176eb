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

export interface OpenStores {
  stores: Stores;
  /** Makes an account exist where the engine checks it (SQLite's foreign keys). */
  addUser(host: string, username: string): Promise<void>;
  /** Removes the account as the account store does (SQLite: the users row, which cascades). */
  dropUser(host: string, username: string): Promise<void>;
  close(): Promise<void>;
}

export interface Driver {
  name: string;
  open(): Promise<OpenStores>;
}

const sqlite: Driver = {
  name: "SQLite",
  async open() {
    const dir = mkdtempSync(join(tmpdir(), "parley-store-"));
    const storage = new SqliteStorage(join(dir, "parley.db"));
    return {
      stores: sqliteStores(storage.db),
      async addUser(host, username) {
        storage.db
          .prepare("INSERT INTO users (host, username, created_at) VALUES (?, ?, ?)")
          .run(host, username, Date.now());
      },
      async dropUser(host, username) {
        storage.db.prepare("DELETE FROM users WHERE host = ? AND username = ?").run(host, username);
      },
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
    const pool = new pg.Pool(cluster.config(await cluster.createDatabase("stores")));
    return {
      stores: await pgStores(pool),
      async addUser() {
        // No accounts table in PostgreSQL yet: nothing to satisfy.
      },
      async dropUser() {
        // Nor to remove.
      },
      close: () => pool.end(),
    };
  },
};

export const DRIVERS: readonly Driver[] = [sqlite, postgres];
