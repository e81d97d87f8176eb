// The SQLite archive's deferred indexing. Every archived message is a row in its sender's and
// its recipient's archives, and the indexes that serve queries are keyed by owner first: with a
// thousand active archives, each commit of a thousand rows touched a thousand scattered leaf
// pages per index (plus FTS5's segment for the batch), and writing those pages out, not the
// rows, capped archiving at about 12 000 rows a second (docs/performance.md).
//
// So a row goes in "pending" (pending = 1): the table's append-only pages and a small index of
// the pending rows only. When enough are pending they are merged into the owner-keyed indexes
// and into FTS5 a chunk at a time, in owner order, so each leaf page written takes many rows.
// The merge gives FTS5 its rows itself, not through a trigger: a trigger's statements run in a
// savepoint, at which FTS5 writes out what it holds in memory, one segment per row, which made
// the trigger cost five times the insert.
// Queries read both parts (../archive-arms.ts); nothing a query can see depends on whether a row
// was merged yet.
import type { Database, Statement } from "better-sqlite3";

/**
 * Version 4 of SQLite's core-archive: the pending column; the owner-keyed indexes become partial
 * (merged rows only), and a partial index keeps the pending rows in the same order, which the
 * merge walks. The expiry index (domain, ts) stays whole: its inserts come in time order, at its
 * end. FTS5 is given a row when it is merged (ArchiveIndexer), and the triggers leave pending rows
 * alone: its external content is the words column, so it must never be told to delete a row it
 * was not given.
 */
export const ARCHIVE_PENDING_V4 = `
  ALTER TABLE archive_entries ADD COLUMN pending INTEGER;
  DROP INDEX archive_entries_by_id;
  DROP INDEX archive_entries_by_time;
  DROP INDEX archive_entries_by_with;
  CREATE UNIQUE INDEX archive_entries_by_id ON archive_entries (owner, stanza_id)
    WHERE pending IS NULL;
  CREATE INDEX archive_entries_by_time ON archive_entries (owner, ts, seq) WHERE pending IS NULL;
  CREATE INDEX archive_entries_by_with ON archive_entries (owner, with_bare, ts, seq)
    WHERE pending IS NULL;
  CREATE INDEX archive_entries_pending ON archive_entries (owner, ts, seq)
    WHERE pending IS NOT NULL;
  DROP TRIGGER archive_words_insert;
  DROP TRIGGER archive_words_delete;
  DROP TRIGGER archive_words_update;
  CREATE TRIGGER archive_words_insert AFTER INSERT ON archive_entries
  WHEN new.words <> '' AND new.pending IS NULL BEGIN
    INSERT INTO archive_words (rowid, words) VALUES (new.seq, new.words);
  END;
  CREATE TRIGGER archive_words_delete AFTER DELETE ON archive_entries
  WHEN old.words <> '' AND old.pending IS NULL BEGIN
    INSERT INTO archive_words (archive_words, rowid, words) VALUES ('delete', old.seq, old.words);
  END;
  CREATE TRIGGER archive_words_update AFTER UPDATE OF words ON archive_entries BEGIN
    INSERT INTO archive_words (archive_words, rowid, words)
      SELECT 'delete', old.seq, old.words WHERE old.words <> '' AND old.pending IS NULL;
    INSERT INTO archive_words (rowid, words)
      SELECT new.seq, new.words WHERE new.words <> '' AND new.pending IS NULL;
  END;
`;

/** When and how much to merge. */
export interface MergePolicy {
  /**
   * Rows left pending before merging starts. More rows pending means more rows per owner in
   * each chunk, hence fewer pages written per row; queries read the pending rows through their
   * own index, so this costs them little.
   */
  pendingRows: number;
  /** The fewest rows a merge step moves (it moves twice what was appended, so it keeps up). */
  minChunk: number;
}

export const DEFAULT_MERGE: MergePolicy = { pendingRows: 32_768, minChunk: 512 };

/** The pending rows as one connection sees them, and the merge steps it runs in its transactions. */
export class ArchiveIndexer {
  private pending: number;
  /** Where the merge walk goes on: it sweeps the owners in order, then starts again. */
  private cursor = "";
  private readonly count: Statement<[], number>;
  private readonly chunk: Statement<
    [string, number],
    { seq: number; owner: string; words: string }
  >;
  private readonly merge: Statement<[number]>;
  private readonly fulltext: Statement<[number, string]>;

  constructor(
    db: Database,
    private readonly policy: MergePolicy = DEFAULT_MERGE,
  ) {
    this.count = db
      .prepare<[], number>("SELECT COUNT(*) FROM archive_entries WHERE pending IS NOT NULL")
      .pluck();
    this.chunk = db.prepare(
      `SELECT seq, owner, words FROM archive_entries WHERE pending IS NOT NULL AND owner >= ?
       ORDER BY owner, ts, seq LIMIT ?`,
    );
    this.merge = db.prepare("UPDATE archive_entries SET pending = NULL WHERE seq = ?");
    this.fulltext = db.prepare("INSERT INTO archive_words (rowid, words) VALUES (?, ?)");
    this.pending = this.count.get()!;
  }

  /** Counts rows just appended in the caller's transaction, then merges if enough are pending. */
  appended(rows: number): void {
    this.pending += rows;
    // At least twice what came in, so that under a steady load the merge keeps up.
    if (this.pending >= this.policy.pendingRows) {
      this.mergeUpTo(Math.max(this.policy.minChunk, 2 * rows));
    }
  }

  /**
   * Moves up to `limit` pending rows into the indexes, the next owners' in the walk, inside the
   * caller's write transaction; returns how many it moved. Fewer than `limit`: none is left.
   */
  mergeUpTo(limit: number): number {
    let moved = this.mergeFrom(this.cursor, limit);
    if (moved < limit && this.cursor !== "") {
      // The walk reached the last owner; it goes on from the first.
      this.cursor = "";
      moved += this.mergeFrom("", limit - moved);
    }
    // The count is this connection's: another one (parleyctl, a tool) may append or merge too.
    this.pending = moved < limit ? 0 : Math.max(0, this.pending - moved);
    return moved;
  }

  private mergeFrom(cursor: string, limit: number): number {
    const rows = this.chunk.all(cursor, limit);
    for (const r of rows) {
      this.merge.run(r.seq);
      if (r.words) this.fulltext.run(r.seq, r.words);
    }
    // The next step goes on from the last owner merged (the rest of its rows, if any).
    if (rows.length > 0) this.cursor = rows[rows.length - 1]!.owner;
    return rows.length;
  }
}
