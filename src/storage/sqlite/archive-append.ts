// The archive's append as one SQLite transaction: the batch stamped with new UIDs and times no
// older than each archive's newest, inserted as pending rows, and a merge step when enough are
// pending (archive-index.ts). Run on the server's connection, or on the archive writer's thread
// (archive-writer.ts) with a connection of its own.
import type { Database } from "better-sqlite3";
import { stampBatch, type ArchiveInsert } from "../archive-sql.js";
import type { ArchivedEntry, NewArchiveEntry } from "../stores.js";
import { ArchiveIndexer, DEFAULT_MERGE, type MergePolicy } from "./archive-index.js";

export interface ArchiveAppender {
  append(batch: readonly NewArchiveEntry[]): ArchivedEntry[];
  /** Merges up to `limit` pending rows in a transaction of its own; returns how many it moved. */
  merge(limit: number): number;
}

/** The append transaction on `db`, whose archive tables are migrated already. */
export function archiveAppender(
  db: Database,
  policy: MergePolicy = DEFAULT_MERGE,
): ArchiveAppender {
  const indexer = new ArchiveIndexer(db, policy);
  const insert = db.prepare<ArchiveInsert>(
    `INSERT INTO archive_entries (owner, domain, stanza_id, ts, with_bare, with_resource, direction, nick, origin_id, message_id, stanza, words, pending)
     VALUES (@owner, @domain, @stanza_id, @ts, @with_bare, @with_resource, @direction, @nick, @origin_id, @message_id, @stanza, @words, 1)`,
  );
  // The newest of either part; a merge moves an owner's older rows first, so a pending row, when
  // there is one, is the newer.
  const newest = [
    db.prepare<[string], number>(
      "SELECT ts FROM archive_entries WHERE pending IS NOT NULL AND owner = ? ORDER BY ts DESC LIMIT 1",
    ),
    db.prepare<[string], number>(
      "SELECT ts FROM archive_entries WHERE pending IS NULL AND owner = ? ORDER BY ts DESC LIMIT 1",
    ),
  ].map((s) => s.pluck());
  const appendMany = db.transaction((batch: readonly NewArchiveEntry[]) => {
    const last = new Map<string, number>();
    for (const owner of new Set(batch.map((e) => e.owner))) {
      const ts = newest[0]!.get(owner) ?? newest[1]!.get(owner);
      if (ts !== undefined) last.set(owner, ts);
    }
    const { rows, stamped } = stampBatch(batch, last);
    for (const r of rows) insert.run(r);
    indexer.appended(rows.length);
    return stamped;
  });
  const mergeAlone = db.transaction((limit: number) => indexer.mergeUpTo(limit));
  // IMMEDIATE: the newest times are read under the write lock, so no other connection (the
  // server's, parleyctl's) can interleave.
  return {
    append: (batch) => (batch.length === 0 ? [] : appendMany.immediate(batch)),
    merge: (limit) => mergeAlone.immediate(limit),
  };
}
