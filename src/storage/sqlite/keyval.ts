// The keyval and map stores in SQLite, in the core's tables `keyval` and `map` (migration 1 of
// sqlite.ts); an account's rows go with it (the account store, accounts.ts).
import type { Database, Statement } from "better-sqlite3";
import type { HostKeyvalStore, HostMapStore, Json, KeyvalStore, MapStore } from "../stores.js";

export class SqliteKeyvalStore<T extends Json = Json> implements KeyvalStore<T> {
  private readonly getStmt: Statement<[string, string, string], { value: string }>;
  private readonly setStmt: Statement<[string, string, string, string]>;
  private readonly delStmt: Statement<[string, string, string]>;

  constructor(
    db: Database,
    readonly store: string,
  ) {
    this.getStmt = db.prepare(
      "SELECT value FROM keyval WHERE host = ? AND username = ? AND store = ?",
    );
    this.setStmt = db.prepare(
      "INSERT INTO keyval (host, username, store, value) VALUES (?, ?, ?, ?) ON CONFLICT(host, username, store) DO UPDATE SET value = excluded.value",
    );
    this.delStmt = db.prepare("DELETE FROM keyval WHERE host = ? AND username = ? AND store = ?");
  }

  async get(host: string, username: string): Promise<T | undefined> {
    const row = this.getStmt.get(host, username, this.store);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(host: string, username: string, value: T): Promise<void> {
    this.setStmt.run(host, username, this.store, JSON.stringify(value));
  }

  async delete(host: string, username: string): Promise<void> {
    this.delStmt.run(host, username, this.store);
  }
}

export class SqliteMapStore<T extends Json = Json> implements MapStore<T> {
  private readonly getStmt: Statement<[string, string, string, string], { value: string }>;
  private readonly allStmt: Statement<[string, string, string], { key: string; value: string }>;
  private readonly setStmt: Statement<[string, string, string, string, string]>;
  private readonly delStmt: Statement<[string, string, string, string]>;
  private readonly clearStmt: Statement<[string, string, string]>;

  constructor(
    db: Database,
    readonly store: string,
  ) {
    this.getStmt = db.prepare(
      "SELECT value FROM map WHERE host = ? AND username = ? AND store = ? AND key = ?",
    );
    this.allStmt = db.prepare(
      "SELECT key, value FROM map WHERE host = ? AND username = ? AND store = ? ORDER BY key",
    );
    this.setStmt = db.prepare(
      "INSERT INTO map (host, username, store, key, value) VALUES (?, ?, ?, ?, ?) ON CONFLICT(host, username, store, key) DO UPDATE SET value = excluded.value",
    );
    this.delStmt = db.prepare(
      "DELETE FROM map WHERE host = ? AND username = ? AND store = ? AND key = ?",
    );
    this.clearStmt = db.prepare("DELETE FROM map WHERE host = ? AND username = ? AND store = ?");
  }

  async get(host: string, username: string, key: string): Promise<T | undefined> {
    const row = this.getStmt.get(host, username, this.store, key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async all(host: string, username: string): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const row of this.allStmt.all(host, username, this.store)) {
      out.set(row.key, JSON.parse(row.value) as T);
    }
    return out;
  }

  async set(host: string, username: string, key: string, value: T): Promise<void> {
    this.setStmt.run(host, username, this.store, key, JSON.stringify(value));
  }

  async delete(host: string, username: string, key: string): Promise<void> {
    this.delStmt.run(host, username, this.store, key);
  }

  async clear(host: string, username: string): Promise<void> {
    this.clearStmt.run(host, username, this.store);
  }
}

/** The host's own values (table host_keyval, migration 3 of sqlite.ts). */
export class SqliteHostKeyvalStore<T extends Json = Json> implements HostKeyvalStore<T> {
  private readonly getStmt: Statement<[string, string], { value: string }>;
  private readonly setStmt: Statement<[string, string, string]>;
  private readonly delStmt: Statement<[string, string]>;

  constructor(
    db: Database,
    readonly store: string,
  ) {
    this.getStmt = db.prepare("SELECT value FROM host_keyval WHERE host = ? AND store = ?");
    this.setStmt = db.prepare(
      "INSERT INTO host_keyval (host, store, value) VALUES (?, ?, ?) ON CONFLICT(host, store) DO UPDATE SET value = excluded.value",
    );
    this.delStmt = db.prepare("DELETE FROM host_keyval WHERE host = ? AND store = ?");
  }

  async get(host: string): Promise<T | undefined> {
    const row = this.getStmt.get(host, this.store);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async set(host: string, value: T): Promise<void> {
    this.setStmt.run(host, this.store, JSON.stringify(value));
  }

  async delete(host: string): Promise<void> {
    this.delStmt.run(host, this.store);
  }
}

/** The host's own keyed values (table host_map, migration 3 of sqlite.ts). */
export class SqliteHostMapStore<T extends Json = Json> implements HostMapStore<T> {
  private readonly getStmt: Statement<[string, string, string], { value: string }>;
  private readonly allStmt: Statement<[string, string], { key: string; value: string }>;
  private readonly setStmt: Statement<[string, string, string, string]>;
  private readonly delStmt: Statement<[string, string, string]>;
  private readonly clearStmt: Statement<[string, string]>;

  constructor(
    db: Database,
    readonly store: string,
  ) {
    this.getStmt = db.prepare(
      "SELECT value FROM host_map WHERE host = ? AND store = ? AND key = ?",
    );
    this.allStmt = db.prepare(
      "SELECT key, value FROM host_map WHERE host = ? AND store = ? ORDER BY key",
    );
    this.setStmt = db.prepare(
      "INSERT INTO host_map (host, store, key, value) VALUES (?, ?, ?, ?) ON CONFLICT(host, store, key) DO UPDATE SET value = excluded.value",
    );
    this.delStmt = db.prepare("DELETE FROM host_map WHERE host = ? AND store = ? AND key = ?");
    this.clearStmt = db.prepare("DELETE FROM host_map WHERE host = ? AND store = ?");
  }

  async get(host: string, key: string): Promise<T | undefined> {
    const row = this.getStmt.get(host, this.store, key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  async all(host: string): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const row of this.allStmt.all(host, this.store)) {
      out.set(row.key, JSON.parse(row.value) as T);
    }
    return out;
  }

  async set(host: string, key: string, value: T): Promise<void> {
    this.setStmt.run(host, this.store, key, JSON.stringify(value));
  }

  async delete(host: string, key: string): Promise<void> {
    this.delStmt.run(host, this.store, key);
  }

  async clear(host: string): Promise<void> {
    this.clearStmt.run(host, this.store);
  }
}
