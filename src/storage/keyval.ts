import type { Database, Statement } from "better-sqlite3";

/** A JSON-serializable value, the unit the keyval and map stores hold. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One value per user, under a store name (e.g. a module's name). */
export class KeyvalStore<T extends Json = Json> {
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

  get(host: string, username: string): T | undefined {
    const row = this.getStmt.get(host, username, this.store);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  set(host: string, username: string, value: T): void {
    this.setStmt.run(host, username, this.store, JSON.stringify(value));
  }

  delete(host: string, username: string): void {
    this.delStmt.run(host, username, this.store);
  }
}

/** Many values per user, each under a key (e.g. roster items by contact JID). */
export class MapStore<T extends Json = Json> {
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

  get(host: string, username: string, key: string): T | undefined {
    const row = this.getStmt.get(host, username, this.store, key);
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  all(host: string, username: string): Map<string, T> {
    const out = new Map<string, T>();
    for (const row of this.allStmt.all(host, username, this.store)) {
      out.set(row.key, JSON.parse(row.value) as T);
    }
    return out;
  }

  set(host: string, username: string, key: string, value: T): void {
    this.setStmt.run(host, username, this.store, key, JSON.stringify(value));
  }

  delete(host: string, username: string, key: string): void {
    this.delStmt.run(host, username, this.store, key);
  }

  clear(host: string, username: string): void {
    this.clearStmt.run(host, username, this.store);
  }
}
