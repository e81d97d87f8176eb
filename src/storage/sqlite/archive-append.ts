// The archive's append as one SQLite transaction: the batch stamped with new UIDs and times no
// older than each archive's newest, then inserted. Run on the server's connection, or on the
// archive writer's thread (archive-writer.ts) with a connection of its own.
import type { Database } from "better-sqlite3";
import { stampBatch, type ArchiveInsert } from "../archive-sql.js";
import type { ArchivedEntry, NewArchiveEntry } from "../stores.js";

export type ArchiveAppend = (batch: readonly NewArchiveEntry[]) => ArchivedEntry[];

/** The append transaction on `db`, whose archive tables are migrated already. */
export function archiveAppender(db: Database): ArchiveAppend {
  const insert = db.prepare<ArchiveInsert>(
    `INSERT INTO archive_entries (owner, domain, stanza_id, ts, with_bare, with_resource, direction, nick, origin_id, message_id, stanza, words)
     VALUES (@owner, @domain, @stanza_id, @ts, @with_bare, @with_resource, @direction, @nick, @origin_id, @message_id, @stanza, @words)`,
  );
  const newest = db.prepare<[string], { ts: number }>(
    "SELECT ts FROM archive_entries WHERE owner = ? ORDER BY ts DESC LIMIT 1",
  );
  const appendMany = db.transaction((batch: readonly NewArchiveEntry[]) => {
    const last = new Map<string, number>();
    for (const owner of new Set(batch.map((e) => e.owner))) {
      const row = newest.get(owner);
      if (row) last.set(owner, row.ts);
    }
    const { rows, stamped } = stampBatch(batch, last);
    for (const r of rows) insert.run(r);
    return stamped;
  });
  // IMMEDIATE: the newest times are read under the write lock, so no other connection (the
  // server's, parleyctl's) can interleave.
  return (batch) => (batch.length === 0 ? [] : appendMany.immediate(batch));
}
