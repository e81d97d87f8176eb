// Offline message storage (SQLite, a table owned by mod_offline). One row per stored message,
// the stanza kept as the XML it arrived as (with its `from` and `to`), and the time it was
// received for the XEP-0203 stamp. Rows go with their account (ON DELETE CASCADE).
//
// Writes are group-committed (see OfflineStore): the messages of one event-loop turn share one
// transaction and one fsync, and each sender's XEP-0198 acknowledgement waits for that commit
// (mod_offline holds the stanza's handoff until then).
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

/** What became of a message handed to addBatched(). */
export type AddResult = "stored" | "full" | Error;

interface PendingAdd {
  host: string;
  username: string;
  storedAt: number;
  stanza: string;
  limit: number;
  done: (result: AddResult) => void;
}

/**
 * The queries of a running mod_offline, prepared once per start.
 *
 * Group commit: messages handed to addBatched() within one turn of the event loop are written
 * in one transaction, so one fsync (synchronous=FULL) covers them all, and each caller hears
 * the outcome after the commit — which is when the sender's acknowledgement may go out.
 */
export class OfflineStore {
  private readonly insertStmt: Statement<[string, string, number, string]>;
  private readonly countStmt: Statement<[string, string], { n: number }>;
  private readonly firstStmt: Statement<[string, string, number], OfflineRow>;
  private readonly removeStmt: Statement<[number]>;
  private readonly addMany: Transaction<(batch: PendingAdd[]) => AddResult[]>;
  private readonly removeMany: Transaction<(ids: number[]) => void>;
  private pending: PendingAdd[] = [];
  /** Delivered messages whose deletion waits for the turn's commit; first() skips them. */
  private pendingRemovals = new Set<number>();

  /** `onRemoveError` hears a failed deletion (the messages would come again: duplicates). */
  constructor(
    db: Database,
    private readonly onRemoveError: (err: unknown) => void,
  ) {
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
    this.removeMany = db.transaction((ids: number[]) => {
      for (const id of ids) this.removeStmt.run(id);
    });
    this.addMany = db.transaction((batch: PendingAdd[]) => {
      // Each user's count is read once per batch, then kept up to date as rows go in.
      const counts = new Map<string, number>();
      return batch.map((m): AddResult => {
        const key = `${m.username}@${m.host}`;
        const n = counts.get(key) ?? this.countStmt.get(m.host, m.username)!.n;
        if (n >= m.limit) {
          counts.set(key, n);
          return "full";
        }
        this.insertStmt.run(m.host, m.username, m.storedAt, m.stanza);
        counts.set(key, n + 1);
        return "stored";
      });
    });
  }

  /**
   * Stores a message with the others of this turn (see the class comment) unless the user
   * already has `limit`; `done` hears "stored", "full", or the error that kept the batch from
   * being committed.
   */
  addBatched(
    host: string,
    username: string,
    storedAt: number,
    stanza: string,
    limit: number,
    done: (result: AddResult) => void,
  ): void {
    if (this.pending.length === 0 && this.pendingRemovals.size === 0) {
      setImmediate(() => this.flush());
    }
    this.pending.push({ host, username, storedAt, stanza, limit, done });
  }

  /**
   * Deletes a delivered message with the others of this turn: one transaction and one fsync for
   * a whole window of acknowledgements. A deletion lost to a power cut means a duplicate at the
   * next login, never a loss, so nobody waits for it.
   */
  removeBatched(id: number): void {
    if (this.pending.length === 0 && this.pendingRemovals.size === 0) {
      setImmediate(() => this.flush());
    }
    this.pendingRemovals.add(id);
  }

  /** Commits what is waiting now (also run when the module stops, so nothing is left behind). */
  flush(): void {
    if (this.pendingRemovals.size > 0) {
      const ids = [...this.pendingRemovals];
      this.pendingRemovals.clear();
      try {
        this.removeMany.immediate(ids);
      } catch (err) {
        this.onRemoveError(err);
      }
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    let results: AddResult[];
    try {
      results = this.addMany.immediate(batch);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      results = batch.map(() => error);
    }
    batch.forEach((m, i) => m.done(results[i]!));
  }

  /** The oldest `limit` messages of the user's queue, oldest first. */
  first(host: string, username: string, limit: number): OfflineRow[] {
    // Rows delivered and about to be deleted are not in the queue any more.
    const skip = this.pendingRemovals;
    if (skip.size === 0) return this.firstStmt.all(host, username, limit);
    return this.firstStmt
      .all(host, username, limit + skip.size)
      .filter((r) => !skip.has(r.id))
      .slice(0, limit);
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
