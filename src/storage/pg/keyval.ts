// The keyval and map stores in PostgreSQL: the same tables as in SQLite, values as JSON text.
import type pg from "pg";
import { HOST_STORE_TABLES } from "../host-stores.js";
import type { HostKeyvalStore, HostMapStore, Json, KeyvalStore, MapStore } from "../stores.js";
import type { PgMigration } from "./migrations.js";

export const KEYVAL_MIGRATIONS: PgMigration[] = [
  {
    version: 1,
    up: `
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
  // The same statements as SQLite's: the host stores' tables, with the host rows copied in.
  { version: 2, up: HOST_STORE_TABLES },
];

export class PgKeyvalStore<T extends Json = Json> implements KeyvalStore<T> {
  constructor(
    private readonly pool: pg.Pool,
    readonly store: string,
  ) {}

  async get(host: string, username: string): Promise<T | undefined> {
    const r = await this.pool.query<{ value: string }>(
      "SELECT value FROM keyval WHERE host = $1 AND username = $2 AND store = $3",
      [host, username, this.store],
    );
    const row = r.rows[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(host: string, username: string, value: T): Promise<void> {
    await this.pool.query(
      `INSERT INTO keyval (host, username, store, value) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host, username, store) DO UPDATE SET value = excluded.value`,
      [host, username, this.store, JSON.stringify(value)],
    );
  }

  async delete(host: string, username: string): Promise<void> {
    await this.pool.query("DELETE FROM keyval WHERE host = $1 AND username = $2 AND store = $3", [
      host,
      username,
      this.store,
    ]);
  }
}

export class PgMapStore<T extends Json = Json> implements MapStore<T> {
  constructor(
    private readonly pool: pg.Pool,
    readonly store: string,
  ) {}

  async get(host: string, username: string, key: string): Promise<T | undefined> {
    const r = await this.pool.query<{ value: string }>(
      "SELECT value FROM map WHERE host = $1 AND username = $2 AND store = $3 AND key = $4",
      [host, username, this.store, key],
    );
    const row = r.rows[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async all(host: string, username: string): Promise<Map<string, T>> {
    // COLLATE "C": sorted by code point, as SQLite's default BINARY collation sorts.
    const r = await this.pool.query<{ key: string; value: string }>(
      `SELECT key, value FROM map WHERE host = $1 AND username = $2 AND store = $3
       ORDER BY key COLLATE "C"`,
      [host, username, this.store],
    );
    return new Map(r.rows.map((row) => [row.key, JSON.parse(row.value) as T]));
  }

  async set(host: string, username: string, key: string, value: T): Promise<void> {
    await this.pool.query(
      `INSERT INTO map (host, username, store, key, value) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (host, username, store, key) DO UPDATE SET value = excluded.value`,
      [host, username, this.store, key, JSON.stringify(value)],
    );
  }

  async delete(host: string, username: string, key: string): Promise<void> {
    await this.pool.query(
      "DELETE FROM map WHERE host = $1 AND username = $2 AND store = $3 AND key = $4",
      [host, username, this.store, key],
    );
  }

  async clear(host: string, username: string): Promise<void> {
    await this.pool.query("DELETE FROM map WHERE host = $1 AND username = $2 AND store = $3", [
      host,
      username,
      this.store,
    ]);
  }
}

export class PgHostKeyvalStore<T extends Json = Json> implements HostKeyvalStore<T> {
  constructor(
    private readonly pool: pg.Pool,
    readonly store: string,
  ) {}

  async get(host: string): Promise<T | undefined> {
    const r = await this.pool.query<{ value: string }>(
      "SELECT value FROM host_keyval WHERE host = $1 AND store = $2",
      [host, this.store],
    );
    const row = r.rows[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(host: string, value: T): Promise<void> {
    await this.pool.query(
      `INSERT INTO host_keyval (host, store, value) VALUES ($1, $2, $3)
       ON CONFLICT (host, store) DO UPDATE SET value = excluded.value`,
      [host, this.store, JSON.stringify(value)],
    );
  }

  async delete(host: string): Promise<void> {
    await this.pool.query("DELETE FROM host_keyval WHERE host = $1 AND store = $2", [
      host,
      this.store,
    ]);
  }
}

export class PgHostMapStore<T extends Json = Json> implements HostMapStore<T> {
  constructor(
    private readonly pool: pg.Pool,
    readonly store: string,
  ) {}

  async get(host: string, key: string): Promise<T | undefined> {
    const r = await this.pool.query<{ value: string }>(
      "SELECT value FROM host_map WHERE host = $1 AND store = $2 AND key = $3",
      [host, this.store, key],
    );
    const row = r.rows[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async all(host: string): Promise<Map<string, T>> {
    // COLLATE "C": code point order, as SQLite sorts.
    const r = await this.pool.query<{ key: string; value: string }>(
      `SELECT key, value FROM host_map WHERE host = $1 AND store = $2 ORDER BY key COLLATE "C"`,
      [host, this.store],
    );
    return new Map(r.rows.map((row) => [row.key, JSON.parse(row.value) as T]));
  }

  async set(host: string, key: string, value: T): Promise<void> {
    await this.pool.query(
      `INSERT INTO host_map (host, store, key, value) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host, store, key) DO UPDATE SET value = excluded.value`,
      [host, this.store, key, JSON.stringify(value)],
    );
  }

  async delete(host: string, key: string): Promise<void> {
    await this.pool.query("DELETE FROM host_map WHERE host = $1 AND store = $2 AND key = $3", [
      host,
      this.store,
      key,
    ]);
  }

  async clear(host: string): Promise<void> {
    await this.pool.query("DELETE FROM host_map WHERE host = $1 AND store = $2", [
      host,
      this.store,
    ]);
  }
}
