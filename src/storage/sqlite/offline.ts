// Offline messages in SQLite. The table and its migrations keep mod_offline's name and shape
// from before the typed stores, so an existing database is used as it is.
import type { Database, Statement, Transaction } from "better-sqlite3";
import { applyMigrations, type Migration } from "../migrations.js";
import type { NewOfflineMessage, OfflineRow, OfflineStore } from "../stores.js";

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE offline_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        host TEXT NOT NULL,
        username TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        stanza TEXT NOT NULL,
        FOREIGN KEY (host, username) REFERENCES users(host, username) ON DELETE CASCADE
      );
      -- A user's queue, in the order it arrived (by id).
      CREATE INDEX offline_messages_by_user ON offline_messages (host, username, id);
    `,
  },
];

export class SqliteOfflineStore implements OfflineStore {
  private readonly insert: Statement<[string, string, number, string]>;
  private readonly countStmt: Statement<[string, string], { n: number }>;
  private readonly firstStmt: Statement<
    [string, string, number],
    { id: number; stored_at: number; stanza: string }
  >;
  private readonly deleteOld: Statement<[string, number]>;
  private readonly addMany: Transaction<
    (batch: readonly NewOfflineMessage[]) => ("stored" | "full")[]
  >;
  private readonly removeMany: Transaction<(ids: readonly number[]) => void>;

  constructor(db: Database) {
    // The owner name of the migrations from when mod_offline kept its own table.
    applyMigrations(db, "mod_offline", MIGRATIONS);
    this.insert = db.prepare(
      "INSERT INTO offline_messages (host, username, stored_at, stanza) VALUES (?, ?, ?, ?)",
    );
    this.countStmt = db.prepare(
      "SELECT COUNT(*) AS n FROM offline_messages WHERE host = ? AND username = ?",
    );
    this.firstStmt = db.prepare(
      "SELECT id, stored_at, stanza FROM offline_messages WHERE host = ? AND username = ? ORDER BY id LIMIT ?",
    );
    this.deleteOld = db.prepare("DELETE FROM offline_messages WHERE host = ? AND stored_at < ?");
    const removeOne = db.prepare<[number]>("DELETE FROM offline_messages WHERE id = ?");
    this.addMany = db.transaction((batch: readonly NewOfflineMessage[]) => {
      // Each user's count is read once per batch, then kept up to date as rows go in.
      const counts = new Map<string, number>();
      return batch.map((m) => {
        const key = `${m.username}@${m.host}`;
        const n = counts.get(key) ?? this.countStmt.get(m.host, m.username)!.n;
        if (n >= m.limit) {
          counts.set(key, n);
          return "full" as const;
        }
        this.insert.run(m.host, m.username, m.storedAt, m.stanza);
        counts.set(key, n + 1);
        return "stored" as const;
      });
    });
    this.removeMany = db.transaction((ids: readonly number[]) => {
      for (const id of ids) removeOne.run(id);
    });
  }

  async add(batch: readonly NewOfflineMessage[]): Promise<("stored" | "full")[]> {
    // IMMEDIATE: the counts are read under the write lock, so a limit holds with parleyctl too.
    return this.addMany.immediate(batch);
  }

  async first(host: string, username: string, limit: number): Promise<OfflineRow[]> {
    return this.firstStmt
      .all(host, username, limit)
      .map((r) => ({ id: r.id, storedAt: r.stored_at, stanza: r.stanza }));
  }

  async remove(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) this.removeMany.immediate(ids);
  }

  async count(host: string, username: string): Promise<number> {
    return this.countStmt.get(host, username)!.n;
  }

  async deleteOlderThan(host: string, cutoff: number): Promise<number> {
    return this.deleteOld.run(host, cutoff).changes;
  }

  async removeUser(): Promise<void> {
    // ON DELETE CASCADE removed the rows with the account.
  }
}
