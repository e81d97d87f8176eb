// Offline message storage (SQLite, a table owned by mod_offline). One row per stored message,
// the stanza kept as the XML it arrived as (with its `from` and `to`), and the time it was
// received for the XEP-0203 stamp. Rows go with their account (ON DELETE CASCADE).
//
// better-sqlite3 is synchronous: when add() returns, the row is committed. That is what lets the
// core acknowledge the sender's stanza (XEP-0198) only after routing returned.
//
// The functions at the bottom take a Database of their own, for parleyctl, which opens the file
// directly whether or not the server runs.
import type { Database, Statement, Transaction } from "better-sqlite3";
import type { Migration } from "../../src/moduleapi.js";

export const TABLE = "offline_messages";

export const MIGRATIONS: Migration[] = [
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

export interface OfflineRow {
  id: number;
  /** Milliseconds since the epoch, when the message was stored. */
  stored_at: number;
  stanza: string;
}

/** The queries of a running mod_offline, prepared once per start. */
export class OfflineStore {
  private readonly insertStmt: Statement<[string, string, number, string]>;
  private readonly countStmt: Statement<[string, string], { n: number }>;
  private readonly firstStmt: Statement<[string, string, number], OfflineRow>;
  private readonly removeStmt: Statement<[number]>;
  private readonly addChecked: Transaction<
    (host: string, username: string, storedAt: number, stanza: string, limit: number) => boolean
  >;

  constructor(db: Database) {
    this.insertStmt = db.prepare(
      "INSERT INTO offline_messages (host, username, stored_at, stanza) VALUES (?, ?, ?, ?)",
    );
    this.countStmt = db.prepare(
      "SELECT COUNT(*) AS n FROM offline_messages WHERE host = ? AND username = ?",
    );
    this.firstStmt = db.prepare(
      "SELECT id, stored_at, stanza FROM offline_messages WHERE host = ? AND username = ? ORDER BY id LIMIT ?",
    );
    this.removeStmt = db.prepare("DELETE FROM offline_messages WHERE id = ?");
    // Count and insert in one transaction, so the limit holds even with parleyctl writing too.
    this.addChecked = db.transaction(
      (host: string, username: string, storedAt: number, stanza: string, limit: number) => {
        if (this.countStmt.get(host, username)!.n >= limit) return false;
        this.insertStmt.run(host, username, storedAt, stanza);
        return true;
      },
    );
  }

  /** Stores a message unless the user already has `limit` of them; false when full. */
  add(host: string, username: string, storedAt: number, stanza: string, limit: number): boolean {
    // BEGIN IMMEDIATE: a read-then-write transaction that took its write lock only at the
    // INSERT would fail at once with "database is locked" when parleyctl writes the file too.
    return this.addChecked.immediate(host, username, storedAt, stanza, limit);
  }

  /** The oldest `limit` messages of the user's queue, oldest first. */
  first(host: string, username: string, limit: number): OfflineRow[] {
    return this.firstStmt.all(host, username, limit);
  }

  count(host: string, username: string): number {
    return this.countStmt.get(host, username)!.n;
  }

  remove(id: number): void {
    this.removeStmt.run(id);
  }
}

function tableExists(db: Database): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(TABLE) !==
    undefined
  );
}

/** ejabberdctl get_offline_count: how many messages wait for user@host (0 before any did). */
export function offlineCount(db: Database, host: string, username: string): number {
  if (!tableExists(db)) return 0;
  const row = db
    .prepare("SELECT COUNT(*) AS n FROM offline_messages WHERE host = ? AND username = ?")
    .get(host, username) as { n: number };
  return row.n;
}

/**
 * ejabberdctl delete_old_messages: removes messages stored more than `days` days before `now`,
 * on every host; returns how many went.
 */
export function deleteOldMessages(db: Database, days: number, now = Date.now()): number {
  if (!tableExists(db)) return 0;
  const cutoff = now - days * 24 * 60 * 60 * 1000;
  return db.prepare("DELETE FROM offline_messages WHERE stored_at < ?").run(cutoff).changes;
}
